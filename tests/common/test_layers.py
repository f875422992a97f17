"""Imports point down: each package of rnnqa imports only packages of lower layers (docs/README.md, "Code
layout"), and no two modules import each other, directly or round a loop — lazy imports included; imports
under ``if TYPE_CHECKING:`` are annotations only and not counted."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "rnnqa"
# Lowest first. Modules on one layer may not import each other's packages either.
LAYERS = [
    {"errors"}, {"fileio", "bundle_format", "cli_common", "utf8"}, {"data"}, {"lexicon"}, {"runtime"}, {"batch"},
    {"ask"}, {"eval"}, {"train"}, {"signing"}, {"export"}, {"serve"}, {"entry"},
]


def module_imports() -> dict[str, set[str]]:
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found = set()
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("rnnqa.")}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("rnnqa."):
                found.add(node.module)
        graph[name] = found
    return graph


def _runtime_nodes(tree: ast.AST):
    """Every node but those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def package_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_every_package_has_a_layer():
    packages = {package_of(m) for m in module_imports()} - {""}
    assert packages == set().union(*LAYERS), "add the new package to LAYERS and to docs/README.md"


def test_packages_import_only_lower_layers():
    rank = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}
    upward = sorted((m, t) for m, targets in module_imports().items() for t in targets
                    if package_of(m) and package_of(t) != package_of(m) and rank[package_of(t)] >= rank[package_of(m)])
    assert upward == []


def test_no_module_import_cycles():
    graph = module_imports()
    known = set(graph)

    def resolve(target: str) -> str | None:  # "rnnqa.batch.table_io" or a name inside a module
        while target and target not in known:
            target = target.rpartition(".")[0]
        return target or None

    edges = {m: {r for t in ts if (r := resolve(t)) and r != m and not m.startswith(r + ".") and r != "rnnqa"}
             for m, ts in graph.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []
