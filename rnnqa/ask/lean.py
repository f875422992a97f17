"""``qa-ask [--bundle DIR] QUESTION...``, the one-shot form an edge box runs, without importing click.

click's import is ~7 ms of a ~150 ms start (BENCHMARKS.md, cold start). This module takes exactly that form —
questions on the command line that do not start with "-", and at most one ``--bundle DIR`` (or
``--bundle=DIR``) — and answers it as rnnqa.ask.cli would, line for line and with its exit codes
(tests/runtime/test_lean_ask.py runs both on the same arguments). Anything else, ``--help`` included, goes
to the click command.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from rnnqa.ask.lines import DEFAULT_BUNDLE_DIR, not_utf8, respond
from rnnqa.errors import RnnqaError
from rnnqa.runtime.model import QAModel
from rnnqa.utf8 import is_utf8

EXIT_ERROR = 1  # rnnqa.cli_common.EXIT_ERROR, restated: that module imports click


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
    """Answer ``questions`` from ``bundle``, one line each on stdout; the exit code."""
    try:
        model = QAModel.load(bundle)
    except RnnqaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    failed = False
    for question in questions:
        line, ok = respond(model, question, False, None) if is_utf8(question) else not_utf8(question, False)
        failed |= not ok
        print(line, flush=True)
    return EXIT_ERROR if failed else 0
