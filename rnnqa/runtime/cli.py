"""``qa-ask``: answer questions from a bundle. Imports click, numpy and onnxruntime only."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from rnnqa.cli_common import EXIT_ERROR, report_errors
from rnnqa.runtime.model import QAModel

DEFAULT_BUNDLE_DIR = Path("artifacts/bundle")
PROMPT = "? "


@click.command(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.argument("questions", nargs=-1)
@click.option("--bundle", "bundle_dir", default=DEFAULT_BUNDLE_DIR, type=click.Path(path_type=Path),
              help="Bundle directory written by qa-export.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question.")
@click.option("--top-k", type=click.IntRange(min=1), help="Also show the K most likely answers.")
@click.option("--threshold", type=click.FloatRange(0, 1), help="Override the bundle's confidence threshold.")
@click.option("--threads", type=click.IntRange(min=1), help="onnxruntime intra-op threads (default 1).")
@report_errors
def main(questions: tuple[str, ...], bundle_dir: Path, as_json: bool, top_k: int | None,
         threshold: float | None, threads: int | None) -> None:
    """Answer QUESTIONS; with none, answer one question per line of standard input.

    Prints the answer, or "I don't know" when its confidence is below the threshold. Exactly one
    output line per question; a bad question gets an error line and the rest go on (exit code 1
    at the end if any failed).
    """
    model = QAModel.load(bundle_dir, threads=threads, threshold=threshold)
    interactive = not questions and sys.stdin.isatty()
    source = questions or _stdin_lines(interactive)
    failed = False
    for question in source:
        line, ok = _respond(model, question, as_json, top_k)
        failed |= not ok
        click.echo(line)
        sys.stdout.flush()
    if failed:
        sys.exit(EXIT_ERROR)


def _stdin_lines(interactive: bool):
    while True:
        if interactive:
            click.echo(PROMPT, nl=False, err=True)
        line = sys.stdin.readline()
        if not line:
            return
        yield line.rstrip("\r\n")


def _respond(model: QAModel, question: str, as_json: bool, top_k: int | None) -> tuple[str, bool]:
    """The output line for ``question`` and whether it was answered."""
    try:
        answers = model.top_k(question, top_k) if top_k else [model.answer(question)]
    except (ValueError, TypeError) as exc:
        if as_json:
            return json.dumps({"question": question, "error": str(exc)}, ensure_ascii=False), False
        return f"error: {exc}", False
    best = answers[0]
    if as_json:
        record = {"question": question, "answer": best.text, "confidence": round(best.confidence, 6),
                  "known": best.known}
        if top_k:
            record["top_k"] = [{"answer": a.text, "confidence": round(a.confidence, 6)} for a in answers]
        return json.dumps(record, ensure_ascii=False), True
    if top_k:
        return " | ".join(f"{a.text} ({a.confidence:.3f})" for a in answers), True
    return str(best), True


