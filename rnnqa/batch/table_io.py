"""Tables of stored questions on disk, read and written a chunk at a time: CSV and JSON Lines with the
standard library, Parquet with pyarrow (:mod:`rnnqa.batch.parquet_io`, imported only for Parquet).

A reader yields :class:`Chunk` objects of at most ``batch_size`` rows; a writer takes each chunk with its
answer columns. Memory stays one chunk deep however large the file. A row that cannot be read (a JSON
Lines line that is not a JSON object, a CSV row with the wrong number of fields) is not an error: it
becomes a row with a ``problem`` text, and the job goes on.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

from rnnqa.batch.column import ANSWER_COLUMNS, QUESTION_COLUMN
from rnnqa.errors import BatchError

FORMATS = ("csv", "jsonl", "parquet")
EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
_CSV_BOOL = {True: "true", False: "false", None: None}  # as JSON and Arrow's CSV writer spell them


@dataclass
class Chunk:
    """Consecutive rows of an input file."""

    columns: Sequence[Sequence[Any]] | None  # one sequence per input column (CSV, JSON Lines) …
    batch: Any  # … or a pyarrow.RecordBatch (Parquet)
    questions: Sequence[Any]  # the question column's values
    done: int  # progress so far, in the reader's unit (bytes read, or rows for Parquet)
    problems: dict[int, str] = field(default_factory=dict)  # row in the chunk → why it could not be read

    def __len__(self) -> int:
        return len(self.questions)

    def python_columns(self) -> Sequence[Sequence[Any]]:
        """The input columns as Python values (a Parquet batch's through ``to_pylist``)."""
        if self.batch is None:
            return self.columns
        return [column.to_pylist() for column in self.batch.columns]


class Reader(Protocol):
    columns: list[str]  # the input's column names, in file order
    total: int  # the end of progress, in the unit of Chunk.done
    schema: Any  # the input's pyarrow.Schema (Parquet), else None

    def __iter__(self) -> Iterator[Chunk]: ...

    def close(self) -> None: ...


class Writer(Protocol):
    def write(self, chunk: Chunk, answers: dict[str, list]) -> None: ...

    def close(self) -> None: ...


def file_format(path: Path, override: str | None = None) -> str:
    """The format of ``path``: ``override`` when given, else from its extension.

    Raises:
        BatchError: the extension is not one of :data:`EXTENSIONS` and there is no override.
    """
    if override is not None:
        if override not in FORMATS:
            raise BatchError(f"unknown format {override!r}: use one of {', '.join(FORMATS)}")
        return override
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise BatchError(f"{path}: cannot tell the format from the extension {path.suffix!r}: use "
                         f"{', '.join(EXTENSIONS)} (or name the format explicitly)")
    return fmt


def check_columns(path: Path, columns: Sequence[str]) -> None:
    """Refuse an input without a ``question`` column, with duplicate names, or with a column the output adds.

    Raises:
        BatchError: naming ``path`` and the column at fault.
    """
    if QUESTION_COLUMN not in columns:
        raise BatchError(f"{path}: no {QUESTION_COLUMN!r} column (columns: {', '.join(map(str, columns)) or 'none'})")
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise BatchError(f"{path}: duplicate column name(s) {', '.join(duplicates)}")
    clashes = [c for c in ANSWER_COLUMNS if c in columns]
    if clashes:
        raise BatchError(f"{path}: already has column(s) {', '.join(clashes)}, which the output adds; rename "
                         "or drop them first")


def open_reader(path: Path, fmt: str, batch_size: int) -> Reader:
    """A reader of ``path`` in format ``fmt``, ``batch_size`` rows a chunk.

    Raises:
        BatchError: the file cannot be opened, or has no header (CSV), no JSON object (JSON Lines) or no
            Parquet footer; pyarrow is missing for Parquet.
    """
    if fmt == "parquet":
        from rnnqa.batch.parquet_io import ParquetReader

        return ParquetReader(path, batch_size)
    return (CsvReader if fmt == "csv" else JsonlReader)(path, batch_size)


def open_writer(path: Path, fmt: str, columns: Sequence[str], schema: Any = None) -> Writer:
    """A writer of ``path`` in format ``fmt``: the input ``columns`` then :data:`ANSWER_COLUMNS`.
    ``schema`` is the input's Arrow schema when it is Parquet (kept in a Parquet output)."""
    if fmt == "parquet":
        from rnnqa.batch.parquet_io import ParquetTableWriter

        return ParquetTableWriter(path, columns, schema)
    return (CsvWriter if fmt == "csv" else JsonlWriter)(path, columns)


def _open_input(path: Path, mode: str, **kwargs):
    try:
        return open(path, mode, **kwargs)
    except OSError as exc:
        raise BatchError(f"{path}: cannot read: {exc.strerror or exc}") from exc


class CsvReader:
    """A CSV file with a header row, UTF-8 (a byte-order mark is skipped). Every value is text; a blank
    line is skipped; a row with more or fewer fields than the header is a row with a problem."""

    schema = None

    def __init__(self, path: Path, batch_size: int):
        self.path, self._batch_size = path, batch_size
        self._fh = _open_input(path, "r", newline="", encoding="utf-8-sig")
        self.total = os.fstat(self._fh.fileno()).st_size
        self._rows = csv.reader(self._fh)
        try:
            self.columns = next(self._rows, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            self.close()
            raise BatchError(f"{path}: cannot read the header: {exc}") from exc
        if self.columns is None:
            self.close()
            raise BatchError(f"{path}: empty file, no header row")

    def __iter__(self) -> Iterator[Chunk]:
        width, at = len(self.columns), self.columns.index(QUESTION_COLUMN)
        while True:
            try:
                rows = list(islice(self._rows, self._batch_size))
            except (csv.Error, UnicodeDecodeError) as exc:
                raise BatchError(f"{self.path}: line {self._rows.line_num}: {exc}") from exc
            if not rows:
                return
            problems: dict[int, str] = {}
            if set(map(len, rows)) != {width}:  # rare: found without a Python loop over the rows
                rows, problems = _even(rows, width)
                if not rows:
                    continue
            columns = list(zip(*rows))
            yield Chunk(columns, None, columns[at], self._fh.buffer.tell(), problems)

    def close(self) -> None:
        self._fh.close()


def _even(rows: list[list[str]], width: int) -> tuple[list[list[str | None]], dict[int, str]]:
    """``rows`` without blank lines, each cut or padded to ``width`` fields; the ragged ones as problems."""
    kept: list[list[str | None]] = []
    problems: dict[int, str] = {}
    for row in rows:
        if not row:
            continue
        if len(row) != width:
            problems[len(kept)] = f"has {len(row)} field(s); the header has {width}"
            row = (row + [None] * width)[:width]
        kept.append(row)
    return kept, problems


class JsonlReader:
    """JSON Lines, UTF-8: one JSON object a line. The columns are the keys of the first object; a later
    object may lack some (they read as null). A line that is not valid JSON, not an object, or has a key
    the first object lacks is a row with a problem; a blank line is skipped."""

    schema = None

    def __init__(self, path: Path, batch_size: int):
        self.path, self._batch_size = path, batch_size
        self.columns = _first_object_keys(path)
        self._fh = _open_input(path, "rb")
        self.total = os.fstat(self._fh.fileno()).st_size

    def __iter__(self) -> Iterator[Chunk]:
        names, known = self.columns, set(self.columns)
        at, loads = self.columns.index(QUESTION_COLUMN), json.loads
        while True:
            lines = list(islice(self._fh, self._batch_size))
            if not lines:
                return
            records: list[dict] = []
            problems: dict[int, str] = {}
            for line in lines:
                try:
                    record = loads(line)
                except ValueError as exc:  # a UnicodeDecodeError is one too
                    if line.strip():
                        problems[len(records)] = f"not valid JSON: {exc}"
                        records.append({})
                    continue
                if type(record) is not dict:
                    problems[len(records)] = f"not a JSON object but {_json_kind(record)}"
                    record = {}
                elif not record.keys() <= known:
                    extra = ", ".join(repr(k) for k in record if k not in known)
                    problems[len(records)] = f"has key(s) {extra} that the first object lacks"
                records.append(record)
            if not records:
                continue
            columns = [[r.get(name) for r in records] for name in names]
            yield Chunk(columns, None, columns[at], self._fh.tell(), problems)

    def close(self) -> None:
        self._fh.close()


def _first_object_keys(path: Path) -> list[str]:
    with _open_input(path, "rb") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if type(record) is dict:
                return list(record)
    raise BatchError(f"{path}: no JSON object in the file, so no {QUESTION_COLUMN!r} key")


def _json_kind(value: object) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def csv_cells(values: Sequence[Any]) -> Sequence[Any]:
    """Values as a CSV cell shows them: booleans ``true``/``false`` (as JSON and Arrow write them),
    missing values empty, everything else ``str``."""
    if any(type(v) is bool for v in values):
        return [_CSV_BOOL[v] if type(v) is bool else v for v in values]
    return values


class CsvWriter:
    """CSV, UTF-8, a header row then one row per input row: the input's values, then the answer columns."""

    def __init__(self, path: Path, columns: Sequence[str]):
        self._fh = open(path, "w", newline="", encoding="utf-8", errors="backslashreplace")
        self._out = csv.writer(self._fh)
        self._out.writerow([*columns, *ANSWER_COLUMNS])

    def write(self, chunk: Chunk, answers: dict[str, list]) -> None:
        columns = chunk.python_columns()
        if chunk.batch is not None:
            columns = [csv_cells(c) for c in columns]
        known = [_CSV_BOOL[k] for k in answers["known"]]
        self._out.writerows(zip(*columns, answers["answer"], answers["confidence"], known, answers["error"]))

    def close(self) -> None:
        self._fh.close()


class JsonlWriter:
    """JSON Lines, UTF-8: one object per input row, its keys the input's columns then the answer columns.
    A value JSON has no type for (a Parquet date, decimal …) is written as its ``str``."""

    def __init__(self, path: Path, columns: Sequence[str]):
        # A lone surrogate (only ever inside a JSON string) is written as its JSON escape, e.g. \ud800.
        self._fh = open(path, "w", newline="\n", encoding="utf-8", errors="backslashreplace")
        self._names = [*columns, *ANSWER_COLUMNS]
        self._encode = json.JSONEncoder(ensure_ascii=False, default=str).encode

    def write(self, chunk: Chunk, answers: dict[str, list]) -> None:
        names, encode = self._names, self._encode
        rows = zip(*chunk.python_columns(), answers["answer"], answers["confidence"], answers["known"],
                   answers["error"])
        self._fh.write("".join([encode(dict(zip(names, row))) + "\n" for row in rows]))

    def close(self) -> None:
        self._fh.close()
