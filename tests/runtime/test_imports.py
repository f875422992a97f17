"""The runtime must stay light: importing it, or running qa-ask, loads neither torch nor pandas."""

import subprocess
import sys

import pytest

HEAVY = ("torch", "pandas", "onnx", "matplotlib", "rnnqa.train", "rnnqa.export", "rnnqa.data.table")

CHECK = """
import sys
{code}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {{"torch", "pandas", "matplotlib", "onnx"}}
               or m.startswith(("rnnqa.train", "rnnqa.export", "rnnqa.data.table")))
print("HEAVY:" + ",".join(heavy))
"""


def run_python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", CHECK.format(code=code)], capture_output=True, text=True, check=True)
    return out.stdout


def test_importing_the_runtime_loads_nothing_heavy():
    assert run_python("import rnnqa.runtime, rnnqa.runtime.cli").splitlines()[-1] == "HEAVY:"


def test_running_qa_ask_loads_nothing_heavy(make_bundle):
    code = (
        "from rnnqa.runtime.cli import main\n"
        f"try:\n    main(['--bundle', {str(make_bundle('gru'))!r}, 'what is the capital of peru'])\n"
        "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
    )
    lines = run_python(code).splitlines()
    assert len(lines) == 2 and lines[-1] == "HEAVY:"


@pytest.mark.parametrize("module", HEAVY[:2])
def test_the_check_itself_sees_heavy_modules(module):
    assert module in run_python(f"import {module}")
