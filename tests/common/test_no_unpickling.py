"""Nothing is unpickled that isn't ours: every torch.load passes weights_only=True, and the runtime
never touches torch (so never model.torchscript.pt, which has no safe load mode)."""

import ast
from pathlib import Path

import rnnqa

PACKAGE = Path(rnnqa.__file__).parent


def unsafe_loads(source: str) -> list[int]:
    """Line numbers of torch.load(...) calls that lack a literal weights_only=True."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load":
            owner = ast.unparse(node.func.value)
            if owner in ("torch", "torch.serialization"):
                ok = any(k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                         for k in node.keywords)
                if not ok:
                    bad.append(node.lineno)
    return bad


def test_the_scanner_catches_unsafe_loads():
    assert unsafe_loads("import torch\ntorch.load('x')\ntorch.load('y', weights_only=False)\n") == [2, 3]
    assert unsafe_loads("torch.load('x', map_location='cpu', weights_only=True)\n") == []


def test_every_torch_load_in_rnnqa_is_weights_only():
    offenders = {str(p.relative_to(PACKAGE)): unsafe_loads(p.read_text()) for p in PACKAGE.rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_runtime_sources_never_load_torchscript_or_pickle():
    for path in (PACKAGE / "runtime").rglob("*.py"):
        text = path.read_text()
        for forbidden in ("import torch", "jit.load", "pickle", "TORCHSCRIPT_FILE"):
            assert forbidden not in text, f"{path.name} mentions {forbidden}"
