"""Parquet tables of stored questions, a record batch at a time (pyarrow, an optional dependency).

Imported only when a Parquet file is read or written, so the base runtime never loads pyarrow.
"""

from __future__ import annotations

import json
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
        self.kinds = None
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
    strings. A JSON Lines input's columns are typed from the kinds of value the whole file holds
    (``kinds``, from the reader's first pass), so no later chunk can disagree: booleans → bool, integers →
    int64, numbers with a fraction (and integers float64 holds exactly) → float64, text → string, all null
    → string; any other mix (text and numbers, integers beyond int64, …) → string, each non-text value as
    its JSON text. Arrays and objects take the type Arrow infers from the first chunk (JSON text where the
    first chunk has none); a later value that does not fit it stops the job with :class:`BatchError`
    naming its row (the output is not written).
    """

    def __init__(self, path: Path, columns: Sequence[str], schema: Any = None,
                 kinds: dict[str, set[str]] | None = None):
        self._pa, self._pq = import_pyarrow()
        self.path, self._columns, self._schema, self._kinds = path, list(columns), None, kinds
        self._writer = None
        self._rows = 0  # rows written before this chunk, for the row number in an error
        self._text: set[int] = set()  # columns written as text, their non-text values as JSON text
        if schema is not None:
            self._schema = self._pa.schema([*schema, *answer_fields(self._pa)], metadata=schema.metadata)

    def write(self, chunk: Chunk, answers: dict[str, list]) -> None:
        pa = self._pa
        if chunk.batch is not None:
            inputs = list(chunk.batch.columns)
        else:
            if self._schema is None:
                self._schema = pa.schema([*map(pa.field, self._columns, self._types(chunk.columns)),
                                          *answer_fields(pa)])
            inputs = [self._fit(i, values, f) for i, (values, f) in enumerate(zip(chunk.columns, self._schema))]
        arrays = [*inputs, *(pa.array(answers[f.name], f.type) for f in answer_fields(pa))]
        self._open().write_batch(pa.RecordBatch.from_arrays(arrays, schema=self._schema))
        self._rows += len(chunk.questions)

    def _types(self, columns: Sequence[Sequence[Any]]) -> list:
        pa, types = self._pa, []
        for i, (name, values) in enumerate(zip(self._columns, columns)):
            kinds = None if self._kinds is None else frozenset(self._kinds.get(name, set()) - {"null"})
            if kinds is None or (kinds in (_ARRAYS, _OBJECTS) and any(v is not None for v in values)):
                types.append(self._infer(values))  # what Arrow infers from this first chunk
            elif kinds in _SCALAR:
                types.append(getattr(pa, _SCALAR[kinds])())
            else:  # all null, a mix no one type holds, or arrays/objects the first chunk never had: text
                if kinds:
                    self._text.add(i)
                types.append(pa.string())
        return types

    def _infer(self, values: Sequence[Any]):
        pa = self._pa
        try:
            kind = pa.array(values).type
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            kind = pa.array([next(v for v in values if v is not None)]).type  # mixed: the first value's
        return pa.string() if pa.types.is_null(kind) else kind

    def _fit(self, i: int, values: Sequence[Any], f):
        """``values`` as an array of ``f.type``; a value that does not fit stops the job, naming its row."""
        pa = self._pa
        if i in self._text:
            values = [v if v is None or type(v) is str else json.dumps(v, ensure_ascii=False) for v in values]
        try:
            return pa.array(values, f.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
        for row, value in enumerate(values, self._rows + 1):
            try:
                pa.array([value], f.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                raise BatchError(f"row {row}: column {f.name!r}: {_short(value)} does not fit {f.type}, the type "
                                 f"of its first rows; write JSON Lines or CSV to keep this column as it is") from None
        raise BatchError(f"column {f.name!r}: its values do not fit {f.type}")

    def _open(self):
        if self._writer is None:
            self._writer = self._pq.ParquetWriter(self.path, self._schema)
        return self._writer

    def close(self) -> None:
        if self._schema is None:  # no rows: a table of the columns, typed as text
            pa = self._pa
            self._schema = pa.schema([*(pa.field(c, pa.string()) for c in self._columns), *answer_fields(pa)])
        self._open().close()


# A column's Arrow type from the kinds of its non-null JSON values in the whole file (pyarrow's factory name).
_SCALAR = {frozenset({"bool"}): "bool_", frozenset({"int"}): "int64", frozenset({"int64"}): "int64",
           frozenset({"int", "int64"}): "int64", frozenset({"float"}): "float64",
           frozenset({"int", "float"}): "float64", frozenset({"str"}): "string"}
_ARRAYS, _OBJECTS = frozenset({"list"}), frozenset({"dict"})


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
