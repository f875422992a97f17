"""A command whose extra is not installed ends with one line naming it, never a traceback."""

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Each command with arguments that reach the code needing the extra ({bundle}, {csv}, {key}: real files),
# a module of that extra made unimportable in the child, and the extra it must name.
CASES = [
    ("qa_train", ["--epochs", "1"], "torch", "train"),
    ("qa_export", ["run", "--out", "bundle"], "onnx", "train"),
    ("qa_eval", ["{bundle}", "--csv", "{csv}"], "pandas", "train"),
    ("qa_serve", ["--bundle", "{bundle}"], "starlette", "serve"),
    ("qa_sign", ["{bundle}", "--key", "{key}"], "cryptography", "sign"),
]


@pytest.fixture(scope="module")
def files(make_bundle, tmp_path_factory):
    root = tmp_path_factory.mktemp("extras")
    bundle = root / "bundle"
    shutil.copytree(make_bundle("gru"), bundle)
    csv = root / "q.csv"
    csv.write_text("question,answer\nWhat is the capital of Peru?,Lima\n")
    key = root / "key.pem"  # any PEM: the command needs the extra to read it
    key.write_text("-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n")
    return {"bundle": str(bundle), "csv": str(csv), "key": str(key)}
BLOCK = """
import sys
class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == {module!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Absent())
from rnnqa.entry import {command}
sys.argv = [{command!r}, *{args!r}]
{command}()
"""


@pytest.mark.parametrize("command, args, module, extra", CASES, ids=[c[0] for c in CASES])
def test_a_missing_extra_is_one_line_naming_it(tmp_path, files, command, args, module, extra):
    code = BLOCK.format(module=module, command=command, args=[a.format(**files) for a in args])
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"pip install 'rnnqa[{extra}]'" in result.stderr


@pytest.mark.slow
def test_on_the_base_install_each_command_says_which_extra(tmp_path, files):
    """A real base-only venv: numpy, onnxruntime and click, nothing else (needs PyPI or pip's cache)."""
    env_dir = tmp_path / "base"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT)], capture_output=True, text=True,
                             timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    for command, args, _, extra in CASES:
        argv = [str(env_dir / "bin" / command.replace("_", "-")), *(a.format(**files) for a in args)]
        result = subprocess.run(argv, cwd=tmp_path,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 1 and "Traceback" not in result.stderr, (command, result.stderr)
        assert f"pip install 'rnnqa[{extra}]'" in result.stderr, (command, result.stderr)
    ask = subprocess.run([str(env_dir / "bin" / "qa-ask"), "--help"], capture_output=True, text=True, timeout=120)
    assert ask.returncode == 0  # the runtime needs no extra
