"""``qa-ask``: answer questions from a bundle. Imports click, numpy and onnxruntime only."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rnnqa.ask.lines import DEFAULT_BUNDLE_DIR, not_utf8, respond
from rnnqa.cli_common import EXIT_ERROR, report_errors
from rnnqa.runtime.model import QAModel
from rnnqa.utf8 import is_utf8

if TYPE_CHECKING:  # rnnqa.batch is imported only for --input, so that answering questions starts fast
    from rnnqa.batch.files import Progress, Summary

PROMPT = "? "
# rnnqa.batch's table formats and default batch size, restated for the options below so that importing this
# module does not import rnnqa.batch (tests/batch/test_files.py checks they are equal).
FORMATS = ("csv", "jsonl", "parquet")
DEFAULT_BATCH_SIZE = 4096


@click.command(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.argument("questions", nargs=-1)
@click.option("--bundle", "bundle_dir", default=DEFAULT_BUNDLE_DIR, type=click.Path(path_type=Path),
              help="Bundle directory written by qa-export.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question.")
@click.option("--top-k", type=click.IntRange(min=1), help="Also show the K most likely answers.")
@click.option("--threshold", type=click.FloatRange(0, 1), help="Override the bundle's confidence threshold.")
@click.option("--threads", type=click.IntRange(min=1), help="onnxruntime intra-op threads (default 1).")
@click.option("--public-key", type=click.Path(path_type=Path),
              help="Refuse the bundle unless signed with this PEM ECDSA key's private half (needs rnnqa[sign]; "
                   "default: $RNNQA_PUBLIC_KEY, else no check).")
@click.option("--graph", type=click.Choice(["onnx", "ort"]), default="onnx",
              help="Run model.onnx, or model.ort (bundles exported with qa-export --ort).")
@click.option("--input", "input_path", type=click.Path(path_type=Path),
              help="Answer the question column of this CSV, JSON Lines or Parquet file (see docs/batch.md).")
@click.option("--output", "output_path", type=click.Path(path_type=Path),
              help="With --input: the file to write (with --engine ray, a directory of files), replaced atomically.")
@click.option("--input-format", type=click.Choice(FORMATS), help="With --input: its format (default: from the extension).")
@click.option("--output-format", type=click.Choice(FORMATS), help="With --input: the output's format (default: from the extension; a --engine ray directory without one: the input's, else parquet).")
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH_SIZE,
              help="With --input: rows answered per onnxruntime call.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local",
              help="With --input: answer in this process, or on Ray Data (needs the ray extra).")
@click.option("--workers", type=click.IntRange(min=1),
              help="With --engine ray: answering actors (default: the cluster's CPUs less one).")
@click.option("--address", help="With --engine ray: an existing Ray cluster this machine is a node of, e.g. auto "
                                "(not ray://; default: a local one for this job).")
@report_errors
def main(questions: tuple[str, ...], bundle_dir: Path, as_json: bool, top_k: int | None,
         threshold: float | None, threads: int | None, public_key: Path | None, graph: str, input_path: Path | None,
         output_path: Path | None, input_format: str | None, output_format: str | None, batch_size: int,
         engine: str, workers: int | None, address: str | None) -> None:
    """Answer QUESTIONS; with none, answer one question per line of standard input; with --input, answer a
    file's question column into --output.

    Prints the answer, or "I don't know" when its confidence is below the threshold. Exactly one
    output line per question; a bad question gets an error line and the rest go on (exit code 1
    at the end if any failed). With --input, a bad row gets an error column and the rest go on; a
    one-line summary goes to stderr (exit code 1 if any row had an error).
    """
    _check_usage(questions, as_json, top_k, input_path, output_path, engine, workers, address)
    if input_path is not None and graph != "onnx":
        raise click.UsageError("--graph ort answers questions given on the command line or standard input")
    if input_path is not None:
        summary = _answer_stored(bundle_dir, input_path, output_path, threshold=threshold, threads=threads,
                                 public_key=public_key, input_format=input_format, output_format=output_format,
                                 batch_size=batch_size,
                                 engine=engine, workers=workers, address=address)
        click.echo(str(summary), err=True)
        if summary.errors:
            sys.exit(EXIT_ERROR)
        return
    model = QAModel.load(bundle_dir, threads=threads, threshold=threshold, public_key=public_key, graph=graph)
    interactive = not questions and sys.stdin.isatty()
    source = questions or _stdin_lines(interactive)
    failed = False
    for question in source:
        line, ok = respond(model, question, as_json, top_k) if is_utf8(question) else not_utf8(question, as_json)
        failed |= not ok
        click.echo(line)
        sys.stdout.flush()
    if failed:
        sys.exit(EXIT_ERROR)


def _check_usage(questions: tuple[str, ...], as_json: bool, top_k: int | None, input_path: Path | None,
                 output_path: Path | None, engine: str, workers: int | None, address: str | None) -> None:
    if input_path is None:
        if output_path is not None:
            raise click.UsageError("--output needs --input")
        return
    if output_path is None:
        raise click.UsageError("--input needs --output")
    if questions:
        raise click.UsageError("give QUESTIONS or --input, not both")
    if as_json or top_k:
        raise click.UsageError("--json and --top-k answer questions one by one; --input writes a table")
    if engine != "ray" and (workers is not None or address is not None):
        raise click.UsageError("--workers and --address need --engine ray")


def _answer_stored(bundle_dir: Path, input_path: Path, output_path: Path, *, threshold: float | None,
                   threads: int | None, public_key: Path | None, input_format: str | None,
                   output_format: str | None, batch_size: int,
                   engine: str, workers: int | None, address: str | None) -> Summary:
    if engine == "ray":
        from rnnqa.batch.ray_engine import answer_with_ray  # ray and pyarrow only here

        return answer_with_ray(bundle_dir, input_path, output_path, input_format=input_format,
                               output_format=output_format, batch_size=batch_size, workers=workers,
                               address=address, threshold=threshold, threads=threads, public_key=public_key,
                               progress=sys.stderr.isatty())
    from rnnqa.batch.files import answer_file

    model = QAModel.load(bundle_dir, threads=threads, threshold=threshold, public_key=public_key)
    with _progress_bar() as progress:
        return answer_file(model, input_path, output_path, input_format=input_format, output_format=output_format,
                           batch_size=batch_size, progress=progress)


@contextmanager
def _progress_bar() -> Iterator[Progress | None]:
    """A progress bar on stderr when it is a terminal (created at the first report, when the total is known)."""
    if not sys.stderr.isatty():
        yield None
        return
    bars: list = []

    def report(done: int, total: int) -> None:
        if not bars:
            bars.append(click.progressbar(length=max(total, 1), label="answering", file=sys.stderr))
        bars[0].update(done - bars[0].pos)

    try:
        yield report
    finally:
        if bars:
            bars[0].render_finish()


def _stdin_lines(interactive: bool):
    """Standard input's lines, read as bytes and decoded as the command line is (UTF-8, a byte that is not
    UTF-8 kept as a lone surrogate), so one rule judges both; a byte-order mark at the start is skipped."""
    first = True
    while True:
        if interactive:
            click.echo(PROMPT, nl=False, err=True)
        raw = sys.stdin.buffer.readline()
        if not raw:
            return
        if first and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        first = False
        yield raw.decode("utf-8", "surrogateescape").rstrip("\r\n")


