"""Open a reader or a writer for a table format: CSV and JSON Lines (:mod:`rnnqa.batch.table_io`, standard
library) or Parquet (:mod:`rnnqa.batch.parquet_io`, imported only for Parquet, so that pyarrow stays
optional)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnqa.batch.table_io import CsvReader, CsvWriter, JsonlReader, JsonlWriter, Reader, Writer


def open_reader(path: Path, fmt: str, batch_size: int) -> Reader:
    """A reader of ``path`` in format ``fmt``, ``batch_size`` rows a chunk.

    Raises:
        BatchError: the file cannot be opened, or has no header (CSV), no JSON object (JSON Lines) or no
            Parquet footer; pyarrow is missing for Parquet.
    """
    if fmt == "parquet":
        from rnnqa.batch.parquet_io import ParquetReader  # pyarrow only for Parquet

        return ParquetReader(path, batch_size)
    return (CsvReader if fmt == "csv" else JsonlReader)(path, batch_size)


def open_writer(path: Path, fmt: str, columns: Sequence[str], schema: Any = None,
                kinds: dict[str, set[str]] | None = None) -> Writer:
    """A writer of ``path`` in format ``fmt``: the input ``columns`` then :data:`~rnnqa.batch.column.ANSWER_COLUMNS`.
    ``schema`` is the input's Arrow schema when it is Parquet, ``kinds`` a JSON Lines input's kinds of value
    per column (both typing a Parquet output)."""
    if fmt == "parquet":
        from rnnqa.batch.parquet_io import ParquetTableWriter

        return ParquetTableWriter(path, columns, schema, kinds)
    return (CsvWriter if fmt == "csv" else JsonlWriter)(path, columns)
