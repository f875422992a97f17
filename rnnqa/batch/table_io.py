"""Tables of stored questions on disk, read and written a chunk at a time: the chunk type, the reader and
writer protocols every format follows, and CSV and JSON Lines with the standard library. Parquet, with
pyarrow, is :mod:`rnnqa.batch.parquet_io`; :mod:`rnnqa.batch.formats` opens the right one for a format.

A reader yields :class:`Chunk` objects of at most ``batch_size`` rows; a writer takes each chunk with its
answer columns. Memory stays one chunk deep however large the file. A row that cannot be read (a JSON
Lines line that is not a JSON object, a CSV row with the wrong number of fields or bytes that are not
UTF-8) is not an error: it becomes a row with a ``problem`` text, and the job goes on.
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
from rnnqa.utf8 import NOT_UTF8, is_utf8, shown

FORMATS = ("csv", "jsonl", "parquet")
EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
_CSV_BOOL = {True: "true", False: "false", None: None}  # as JSON and Arrow's CSV writer spell them
# The csv module refuses a field over 128 KiB; a question that long is still a row (the tokenizer keeps its
# first max_len tokens). 2**31 - 1 is the largest limit a C long takes on every platform.
CSV_FIELD_LIMIT = 2**31 - 1


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
    kinds: dict[str, set[str]] | None  # JSON Lines: the kinds of value each column holds in the whole file

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


def _open_input(path: Path, mode: str, **kwargs):
    try:
        return open(path, mode, **kwargs)
    except OSError as exc:
        raise BatchError(f"{path}: cannot read: {exc.strerror or exc}") from exc


class CsvReader:
    """A CSV file with a header row, UTF-8 (a byte-order mark is skipped). Every value is text; a blank
    line is skipped; a row with more or fewer fields than the header, or with bytes that are not UTF-8, is
    a row with a problem (the bad bytes shown as U+FFFD)."""

    schema = None
    kinds = None

    def __init__(self, path: Path, batch_size: int):
        self.path, self._batch_size = path, batch_size
        # surrogateescape: a byte that is not UTF-8 becomes a lone surrogate, found per chunk, not a failed read
        self._fh = _open_input(path, "r", newline="", encoding="utf-8-sig", errors="surrogateescape")
        self.total = os.fstat(self._fh.fileno()).st_size
        self._rows = csv.reader(self._fh)
        self.columns = self._header()

    def _header(self) -> list[str]:
        try:
            columns = self._read(1)
        except BatchError:
            self.close()
            raise
        if not columns:
            self.close()
            raise BatchError(f"{self.path}: empty file, no header row")
        if not _is_utf8(columns):
            self.close()
            raise BatchError(f"{self.path}: the header row is not valid UTF-8")
        return columns[0]

    def __iter__(self) -> Iterator[Chunk]:
        width, at = len(self.columns), self.columns.index(QUESTION_COLUMN)
        while True:
            rows = self._read(self._batch_size)
            if not rows:
                return
            problems: dict[int, str] = {}
            if set(map(len, rows)) != {width} or not _is_utf8(rows):  # rare: found without a loop over the rows
                rows, problems = _even(rows, width)
                if not rows:
                    continue
            columns = list(zip(*rows))
            yield Chunk(columns, None, columns[at], self._fh.buffer.tell(), problems)

    def _read(self, n: int) -> list[list[str]]:
        """The next ``n`` rows (fewer at the end of the file)."""
        limit = csv.field_size_limit(CSV_FIELD_LIMIT)  # a process-wide setting: restored after the read
        try:
            return list(islice(self._rows, n))
        except csv.Error as exc:  # line_num counts the lines the parser has taken, so it is the line at fault
            raise BatchError(f"{self.path}: line {self._rows.line_num}: {exc}") from exc
        finally:
            csv.field_size_limit(limit)

    def close(self) -> None:
        self._fh.close()


def _is_utf8(rows: list[list[str]]) -> bool:
    """Whether ``rows`` hold no undecodable byte: one C-level encode of the whole chunk."""
    return is_utf8("".join(map("".join, rows)))


def _even(rows: list[list[str]], width: int) -> tuple[list[list[str | None]], dict[int, str]]:
    """``rows`` without blank lines, each cut or padded to ``width`` fields, undecodable bytes as U+FFFD; the
    ragged and undecodable ones as problems."""
    kept: list[list[str | None]] = []
    problems: dict[int, str] = {}
    for row in rows:
        if not row:
            continue
        if not _is_utf8([row]):
            problems[len(kept)] = NOT_UTF8
            row = [shown(field) for field in row]
        if len(row) != width:
            problems[len(kept)] = f"has {len(row)} field(s); the header has {width}"
            row = (row + [None] * width)[:width]
        kept.append(row)
    return kept, problems


class JsonlReader:
    """JSON Lines, UTF-8: one JSON object a line. The columns are the keys of every object in the file, in
    the order they first appear (found by a first pass over the file, one line at a time); an object that
    lacks some reads them as null. A line that is not valid JSON or not an object is a row with a problem;
    a blank line is skipped."""

    schema = None

    def __init__(self, path: Path, batch_size: int):
        self.path, self._batch_size = path, batch_size
        self.columns, self.kinds = _all_keys(path)
        self._fh = _open_input(path, "rb")
        self.total = os.fstat(self._fh.fileno()).st_size

    def __iter__(self) -> Iterator[Chunk]:
        names, at, loads = self.columns, self.columns.index(QUESTION_COLUMN), json.loads
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
                records.append(record)
            if not records:
                continue
            columns = [[r.get(name) for r in records] for name in names]
            yield Chunk(columns, None, columns[at], self._fh.tell(), problems)

    def close(self) -> None:
        self._fh.close()


# A JSON value's kind, as the first pass records it for each key: what a typed output (Parquet) must hold.
# "int" is one that float64 holds exactly, "int64" one only int64 holds, "bigint" one neither holds.
EXACT_FLOAT_INT = 2**53
INT64 = (-2**63, 2**63 - 1)


def _all_keys(path: Path) -> tuple[list[str], dict[str, set[str]]]:
    """The keys of every JSON object in ``path``, in order of first appearance, and the kinds of value each
    key holds anywhere in the file (``null``, ``bool``, ``int``, ``int64``, ``bigint``, ``float``, ``str``,
    ``list``, ``dict``); one line in memory at a time.

    Raises:
        BatchError: the file cannot be opened or holds no JSON object.
    """
    keys: dict[str, set[str]] = {}  # ordered
    found = False
    with _open_input(path, "rb") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if type(record) is dict:
                found = True
                for key, value in record.items():
                    keys.setdefault(key, set()).add(_value_kind(value))
    if not found:
        raise BatchError(f"{path}: no JSON object in the file, so no {QUESTION_COLUMN!r} key")
    return list(keys), keys


def _value_kind(value: object) -> str:
    kind = type(value)
    if kind is int:
        if -EXACT_FLOAT_INT <= value <= EXACT_FLOAT_INT:
            return "int"
        return "int64" if INT64[0] <= value <= INT64[1] else "bigint"
    return {type(None): "null", bool: "bool", float: "float", str: "str", list: "list", dict: "dict"}[kind]


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
