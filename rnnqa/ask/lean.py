"""``qa-ask [--bundle DIR] QUESTION...``, the one-shot form an edge box runs, without importing click.

click's import alone is ~7 ms (BENCHMARKS.md, cold start). This module takes exactly that form —
questions on the command line that do not start with "-", and at most one ``--bundle DIR`` (or
``--bundle=DIR``) — and answers it as rnnqa.ask.cli would, line for line and with its exit codes
(tests/runtime/test_lean_ask.py runs both on the same arguments), where stdout and stderr take UTF-8.
Anything else, ``--help`` included, goes to the click command.

The questions are answered through onnxruntime's C API (rnnqa.runtime.one_shot), without importing numpy or
onnxruntime's Python package (their imports: ~110 ms, more than the rest of the start); where that path does
not apply, by a QAModel on the same checked bundle.
"""

from __future__ import annotations

import codecs
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from rnnqa.ask.lines import DEFAULT_BUNDLE_DIR, not_utf8, respond
from rnnqa.errors import RnnqaError
from rnnqa.runtime.bundle import load_checked
from rnnqa.runtime.one_shot import OneShotModel
from rnnqa.utf8 import is_utf8

EXIT_ERROR = 1  # rnnqa.cli_common.EXIT_ERROR, restated: that module imports click
# click.echo's rule, restated: escape codes are stripped from a stream that is no terminal (click's pattern).
_ANSI = re.compile(r"\033\[[0-?]*[ -/]*[@-~]")


def usable() -> bool:
    """Whether stdout and stderr take UTF-8; where one does not, click's echo rewraps it, so its command answers."""
    try:
        return all(codecs.lookup(stream.encoding).name == "utf-8" for stream in (sys.stdout, sys.stderr))
    except (AttributeError, LookupError, TypeError):  # no stream, or no encoding
        return False


def parse(argv: Sequence[str]) -> tuple[Path, list[str]] | None:
    """The bundle and the questions of ``argv``, or None when it is not the lean form."""
    bundle, questions, i = None, [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--bundle" and i + 1 < len(argv) and bundle is None:
            bundle, i = argv[i + 1], i + 2
            continue
        if arg.startswith("--bundle=") and bundle is None:
            bundle = arg.removeprefix("--bundle=")
        elif arg.startswith("-"):
            return None
        else:
            questions.append(arg)
        i += 1
    if not questions:
        return None  # standard input: the click command (prompt, byte-order mark, …)
    return (DEFAULT_BUNDLE_DIR if bundle is None else Path(bundle)), questions


def main(bundle: Path, questions: list[str]) -> int:
    """Answer ``questions`` from ``bundle``, one line each on stdout; the exit code. Ctrl-C and a closed pipe end
    as click ends them: "Aborted!" on stderr, or silently, with exit code 1."""
    try:
        return _answer(bundle, questions)
    except KeyboardInterrupt:
        _echo("", sys.stderr)
        _echo("Aborted!", sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to flush at exit
        return EXIT_ERROR


def _answer(bundle: Path, questions: list[str]) -> int:
    try:
        checked, key = load_checked(bundle)  # as QAModel.load reads it
        model = OneShotModel.serve(checked)  # numpy and onnxruntime's Python package are never imported then
        if model is None:  # where that path does not apply: the runtime's own, with its errors
            from rnnqa.runtime.model import QAModel

            model = QAModel(checked, public_key=key)
    except RnnqaError as exc:
        _echo(f"error: {exc}", sys.stderr)
        return EXIT_ERROR
    failed = False
    for question in questions:
        line, ok = respond(model, question, False, None) if is_utf8(question) else not_utf8(question, False)
        failed |= not ok
        _echo(line, sys.stdout)
    return EXIT_ERROR if failed else 0


def _echo(line: str, stream) -> None:
    if "\033" in line and not stream.isatty():
        line = _ANSI.sub("", line)
    stream.write(line + "\n")
    stream.flush()
