"""Parquet tables of stored questions, a record batch at a time (pyarrow, an optional dependency).

Imported only when a Parquet file is read or written, so the base runtime never loads pyarrow.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rnnqa.batch.column import QUESTION_COLUMN, answer_fields
from rnnqa.batch.table_io import Chunk
from rnnqa.errors import BatchError


def import_pyarrow():
    """``(pyarrow, pyarrow.parquet)``.

    Raises:
        BatchError: pyarrow is not installed.
    """
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise BatchError("Parquet needs pyarrow: pip install 'rnnqa[ray]' (or pip install pyarrow)") from exc
    return pyarrow, pyarrow.parquet


class ParquetReader:
    """A Parquet file read ``batch_size`` rows at a time (``ParquetFile.iter_batches``); progress in rows."""

    def __init__(self, path: Path, batch_size: int):
        self._pa, pq = import_pyarrow()
        self.path, self._batch_size = path, batch_size
        try:
            self._file = pq.ParquetFile(path)
        except (OSError, self._pa.ArrowException) as exc:  # missing file; not Parquet (ArrowInvalid)
            raise BatchError(f"{path}: cannot read as Parquet: {exc}") from exc
        self.schema = self._file.schema_arrow
        self.columns = list(self.schema.names)
        self.total = self._file.metadata.num_rows

    def __iter__(self) -> Iterator[Chunk]:
        at, done = self.columns.index(QUESTION_COLUMN), 0
        batches = self._file.iter_batches(batch_size=self._batch_size)
        while True:
            try:
                batch = next(batches, None)
            except self._pa.ArrowException as exc:
                raise BatchError(f"{self.path}: after row {done}: {exc}") from exc
            if batch is None:
                return
            done += batch.num_rows
            yield Chunk(None, batch, batch.column(at).to_pylist(), done)

    def close(self) -> None:
        self._file.close()


class ParquetTableWriter:
    """Parquet: the input's columns, then the answer columns (string, float64, bool, string).

    A Parquet input's columns keep their Arrow types (and the schema's metadata); a CSV input's are
    strings; a JSON Lines input's take the types Arrow infers from the first chunk (string where a column
    is all null there). A later value that does not fit its column's type makes its row a problem row
    (that cell null, the row unanswered) rather than stopping the job.
    """

    def __init__(self, path: Path, columns: Sequence[str], schema: Any = None):
        self._pa, self._pq = import_pyarrow()
        self.path, self._columns, self._schema = path, list(columns), None
        self._writer = None
        if schema is not None:
            self._schema = self._pa.schema([*schema, *answer_fields(self._pa)], metadata=schema.metadata)

    def write(self, chunk: Chunk, answers: dict[str, list]) -> None:
        pa = self._pa
        if chunk.batch is not None:
            inputs = list(chunk.batch.columns)
        else:
            if self._schema is None:
                self._schema = pa.schema([*map(pa.field, self._columns, self._infer(chunk.columns)),
                                          *answer_fields(pa)])
            inputs = [self._fit(values, f, answers) for values, f in zip(chunk.columns, self._schema)]
        arrays = [*inputs, *(pa.array(answers[f.name], f.type) for f in answer_fields(pa))]
        self._open().write_batch(pa.RecordBatch.from_arrays(arrays, schema=self._schema))

    def _infer(self, columns: Sequence[Sequence[Any]]) -> list:
        pa, types = self._pa, []
        for values in columns:
            try:
                kind = pa.array(values).type
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                kind = pa.array([next(v for v in values if v is not None)]).type  # mixed: the first value's
            types.append(pa.string() if pa.types.is_null(kind) else kind)
        return types

    def _fit(self, values: Sequence[Any], f, answers: dict[str, list]):
        """``values`` as an array of ``f.type``; a value that does not fit is null and its row a problem."""
        pa = self._pa
        try:
            return pa.array(values, f.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
        fitted = []
        for i, value in enumerate(values):
            try:
                pa.array([value], f.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                answers["answer"][i] = answers["confidence"][i] = answers["known"][i] = None
                answers["error"][i] = f"column {f.name!r}: {_short(value)} is not {f.type} like the first rows"
                value = None
            fitted.append(value)
        return pa.array(fitted, f.type)

    def _open(self):
        if self._writer is None:
            self._writer = self._pq.ParquetWriter(self.path, self._schema)
        return self._writer

    def close(self) -> None:
        if self._schema is None:  # no rows: a table of the columns, typed as text
            pa = self._pa
            self._schema = pa.schema([*(pa.field(c, pa.string()) for c in self._columns), *answer_fields(pa)])
        self._open().close()


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
