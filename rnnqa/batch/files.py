"""Answering a file of stored questions, a chunk at a time: ``qa-ask --input FILE --output FILE``.

Reads CSV, JSON Lines or Parquet (:mod:`rnnqa.batch.table_io`), answers each chunk with
:func:`~rnnqa.batch.column.answer_column`, and writes the input's columns plus ``answer``, ``confidence``,
``known`` and ``error`` in the input's row order — atomically: into a temporary file beside the output,
fsynced, then renamed over it. Memory stays one chunk deep however large the file. numpy, onnxruntime and
the standard library (pyarrow only for Parquet).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rnnqa.batch.column import answer_column
from rnnqa.batch.formats import open_reader, open_writer
from rnnqa.batch.table_io import Chunk, check_columns, file_format
from rnnqa.errors import BatchError, ConfigError
from rnnqa.fileio import atomic_file
from rnnqa.runtime.model import QAModel

DEFAULT_BATCH_SIZE = 4096  # rows a chunk: one onnxruntime call each; memory is a few MB a chunk

Progress = Callable[[int, int], None]  # (done, total) after each chunk: bytes read (CSV, JSONL) or rows (Parquet)


@dataclass(frozen=True)
class Summary:
    """What a stored-questions job did."""

    rows: int  # rows written
    errors: int  # rows with an ``error`` (and no answer)
    output: Path

    @property
    def answered(self) -> int:
        return self.rows - self.errors

    def __str__(self) -> str:
        return f"{self.answered} row(s) answered, {self.errors} with errors → {self.output}"


def answer_file(model: QAModel | str | Path, input: str | Path, output: str | Path, *,
                input_format: str | None = None, output_format: str | None = None,
                batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None) -> Summary:
    """Answer every question of ``input`` into ``output``.

    Args:
        model: a loaded model, or a bundle directory to load.
        input: a CSV (header row), JSON Lines (``.jsonl``/``.ndjson``) or Parquet file with a ``question``
            column; other columns are passed through unchanged.
        output: the file to write, replaced atomically; its format may differ from the input's.
        input_format, output_format: ``csv``, ``jsonl`` or ``parquet``; default: from the extension.
        batch_size: rows answered per onnxruntime call (and held in memory at once).
        progress: called with ``(done, total)`` after each chunk.

    Returns:
        The rows written and how many had an error (a missing, empty or non-text question, a line that
        is not a JSON object, a CSV row that is not UTF-8 …): those rows have an ``error`` and no answer;
        the others are answered.

    Raises:
        BatchError: the input cannot be read as a whole (missing, no ``question`` column, a column the output
            would add, a CSV header that is not UTF-8, not Parquet), the output cannot be written, is the
            input, or pyarrow is missing for Parquet. ``output`` is then untouched.
        ConfigError: ``batch_size`` is not a positive integer.
        BundleError: ``model`` is a bundle directory that does not load.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    input, output = Path(input), Path(output)
    source, target = file_format(input, input_format), file_format(output, output_format)
    check_output_path(input, output)
    if output.is_dir():
        raise BatchError(f"{output}: is a directory; name the file to write")
    if not isinstance(model, QAModel):
        model = QAModel.load(model)
    rows = errors = 0
    reader = open_reader(input, source, batch_size)
    try:
        check_columns(input, reader.columns)
        with atomic_file(output) as tmp:
            writer = open_writer(tmp, target, reader.columns, reader.schema, reader.kinds)
            try:
                for chunk in reader:
                    answers = _answer(model, chunk)
                    writer.write(chunk, answers)  # may turn a row whose value fits no Parquet type into an error
                    rows += len(chunk)
                    errors += len(chunk) - answers["error"].count(None)
                    if progress is not None:
                        progress(chunk.done, reader.total)
            finally:
                writer.close()
    except OSError as exc:
        raise BatchError(f"{exc.filename or output}: {exc.strerror or exc}") from exc
    finally:
        reader.close()
    return Summary(rows, errors, output)


def check_output_path(input: Path, output: Path) -> None:
    """Refuse an ``output`` that is the ``input``.

    Raises:
        BatchError: naming the path.
    """
    if output.resolve() == input.resolve() or (output.exists() and input.exists() and os.path.samefile(input, output)):
        raise BatchError(f"{output}: the output would overwrite the input; choose another file")


def _answer(model: QAModel, chunk: Chunk) -> dict[str, list]:
    answers = answer_column(model, chunk.questions)
    for i, why in chunk.problems.items():  # rows the reader could not read: no answer, the reader's reason
        answers["answer"][i] = answers["confidence"][i] = answers["known"][i] = None
        answers["error"][i] = why
    return answers
