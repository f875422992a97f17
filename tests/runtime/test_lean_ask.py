"""qa-ask's one-shot form without click (rnnqa.ask.lean) prints, and exits, exactly as the click command does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnnqa.ask.lean import parse

LEAN = ("import atexit, sys\nfrom rnnqa.entry import qa_ask\n"  # the mark comes last, after any traceback
        "atexit.register(lambda: sys.stderr.write('CLICK:' + str('click' in sys.modules)))\nqa_ask()\n")
CLICK = "from rnnqa.ask.cli import main\nmain(prog_name='qa-ask')\n"


def run(code: str, args: list, cwd, env: dict | None = None) -> subprocess.CompletedProcess:
    argv = [os.fsencode(sys.executable), b"-c", code.encode(), *(a if isinstance(a, bytes) else a.encode() for a in args)]
    return subprocess.run(argv, capture_output=True, cwd=cwd, env={**os.environ, **(env or {})}, timeout=120)


@pytest.fixture(scope="module")
def bundle(make_bundle):
    return str(make_bundle("gru"))


@pytest.mark.parametrize("case", ["answers", "equals", "after", "missing", "not_utf8", "default", "bad_key", "ansi",
                                  "ascii"])
def test_the_lean_form_prints_and_exits_as_the_click_command(bundle, tmp_path, case):
    args, env = {
        "answers": (["--bundle", bundle, "What is the capital of Peru?", "", "  ", "zzz qqq", "peru capital"], None),
        "equals": ([f"--bundle={bundle}", "Who wrote Hamlet?"], None),
        "after": (["What is the capital of Peru?", "--bundle", bundle], None),
        "missing": (["--bundle", str(tmp_path / "nope"), "What is the capital of Peru?"], None),
        "not_utf8": (["--bundle", bundle, b"caf\xe9?", "What is the capital of Peru?"], None),
        "default": (["What is the capital of Peru?"], None),  # artifacts/bundle under cwd: none
        "bad_key": (["--bundle", bundle, "What is the capital of Peru?"], {"RNNQA_PUBLIC_KEY": str(tmp_path / "k.pem")}),
        "ansi": (["--bundle", str(tmp_path / "\033[1mbold"), "q"], None),  # click strips codes off a pipe
        "ascii": (["--bundle", bundle, "What is the capital of Colombia?", "caf\u00e9?"], {"PYTHONIOENCODING": "ascii"}),
    }[case]
    lean, click = run(LEAN, args, tmp_path, env), run(CLICK, args, tmp_path, env)
    stderr, _, used_click = lean.stderr.decode().rpartition("CLICK:")
    assert used_click == str(case == "ascii")  # the lean path ran, but where a stream is not UTF-8 (click rewraps it)
    assert (lean.returncode, lean.stdout.decode(), stderr) == (click.returncode, click.stdout.decode(),
                                                                click.stderr.decode())
    assert lean.stdout or stderr  # something was said


@pytest.mark.parametrize("argv", [[], ["--json", "q"], ["-h"], ["--help"], ["--", "q"], ["--bundle"], ["q", "-x"],
                                  ["--bundle", "a", "--bundle", "b", "q"], ["--bundle", "a"], ["--top-k", "2", "q"]])
def test_every_other_form_goes_to_the_click_command(argv):
    assert parse(argv) is None


def test_the_lean_parse():
    assert parse(["q1", "--bundle", "b", "q2"]) == (Path("b"), ["q1", "q2"])
    assert parse(["--bundle=", "q"]) == (Path(""), ["q"])


def test_a_closed_pipe_ends_as_in_the_click_command(bundle, tmp_path):
    """The reader goes away (``qa-ask … | head -0``): exit code 1 and nothing on stderr, no traceback."""
    args = ["--bundle", bundle, *["What is the capital of Peru?"] * 200]
    ends = []
    for code in (LEAN, CLICK):
        argv = [sys.executable, "-c", code, *args]
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path) as proc:
            proc.stdout.close()
            ends.append((proc.wait(timeout=120), proc.stderr.read().decode().rpartition("CLICK:")[0]))
    assert ends[0] == ends[1] == (1, "")
