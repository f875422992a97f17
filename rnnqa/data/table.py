"""CSV → question/answer pairs, with pandas. Every refusal names the file and the 1-based line."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from rnnqa.data.text import Tokenizer, make_tokenizer
from rnnqa.errors import DataError

REQUIRED_COLUMNS = ("question", "answer")


@dataclass(frozen=True)
class QAPairs:
    """Questions and answers as read (trimmed), each with its 1-based CSV line; ``notes`` says
    what was ignored or merged so nothing is dropped silently."""

    questions: list[str]
    answers: list[str]
    lines: list[int]
    source: str
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.questions)

    def select(self, rows: list[int], notes: list[str] | None = None) -> QAPairs:
        """The pairs at positions ``rows``, in that order."""
        return QAPairs(
            [self.questions[i] for i in rows],
            [self.answers[i] for i in rows],
            [self.lines[i] for i in rows],
            self.source,
            list(self.notes if notes is None else notes),
        )


def default_dataset_path() -> Path:
    """The trivia CSV shipped inside the package, used when no CSV is given."""
    return Path(str(resources.files("rnnqa.data") / "default_qa.csv"))


def load_qa_csv(path: str | Path, tokenizer: Tokenizer | None = None) -> QAPairs:
    """Read a ``question,answer`` CSV (UTF-8, optional BOM, quoted fields, any line endings).

    Cells are trimmed; fully blank lines are skipped; identical duplicate rows are merged and other
    columns ignored, each with a note. ``tokenizer`` (default: the ``stem`` preset) decides when two
    questions are "the same".

    Raises:
        DataError: missing file or column, empty file, undecodable bytes, malformed row, empty
            cell, or one question with two different answers.
    """
    path = Path(path)
    text = _read_text(path)
    frame = _parse(text, path)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        found = ", ".join(repr(c) for c in frame.columns if c != "_line") or "none"
        raise DataError(f"missing column {missing[0]!r} (header has {found})", path=path, line=1)
    notes = []
    extra = [c for c in frame.columns if c not in REQUIRED_COLUMNS and c != "_line"]
    if extra:
        notes.append(f"ignored column(s) {', '.join(map(repr, extra))}")
    lines = frame["_line"]
    frame = frame[list(REQUIRED_COLUMNS)]
    frame = frame.apply(lambda col: col.str.strip())
    blank = (frame == "").all(axis=1)
    frame, lines = frame[~blank], lines[~blank]
    if frame.empty:
        raise DataError("no question/answer rows (only a header?)", path=path)
    for col in REQUIRED_COLUMNS:
        empty = frame[col] == ""
        if empty.any():
            raise DataError(f"empty {col}", path=path, line=int(lines[empty].iloc[0]))
    pairs = QAPairs(frame["question"].tolist(), frame["answer"].tolist(), lines.tolist(), str(path), notes)
    return _merge_duplicates(pairs, tokenizer or make_tokenizer(), path)


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise DataError(f"cannot read CSV: {exc.strerror}", path=path) from exc
    if not raw.strip():
        raise DataError("file is empty", path=path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})", path=path, line=line) from exc


def _parse(text: str, path: Path) -> pd.DataFrame:
    """Header row included as data (``header=None``), so a row with an extra field is a parse error
    instead of pandas quietly turning the first column into an index."""
    try:
        raw = pd.read_csv(
            io.StringIO(text),
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            skipinitialspace=True,  # `q, "a, b"` reads as two fields
            engine="c",
        )
    except pd.errors.ParserError as exc:
        raise DataError(f"malformed CSV: {exc}".strip(), path=path) from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError("file is empty", path=path) from exc
    raw = raw.fillna("")
    lines = _line_numbers(raw)
    frame = raw.iloc[1:].set_axis([str(c).strip().lower() for c in raw.iloc[0]], axis=1)
    return frame.assign(_line=lines.iloc[1:])


def _line_numbers(frame: pd.DataFrame) -> pd.Series:
    """1-based line where each row starts; quoted newlines push later rows down."""
    newlines = sum(frame[c].str.count("\n") for c in frame.columns)
    return 1 + frame.index.to_series(index=frame.index) + newlines.cumsum().shift(fill_value=0)


def _merge_duplicates(pairs: QAPairs, tokenizer: Tokenizer, path: Path) -> QAPairs:
    first: dict[tuple[str, ...], int] = {}
    keep: list[int] = []
    for i, question in enumerate(pairs.questions):
        key = tuple(tokenizer(question))
        if not key:
            raise DataError("question has no words after tokenization", path=path, line=pairs.lines[i])
        j = first.setdefault(key, i)
        if j == i:
            keep.append(i)
        elif pairs.answers[j] != pairs.answers[i]:
            raise DataError(
                f"question {pairs.questions[i]!r} has answer {pairs.answers[i]!r} here but "
                f"{pairs.answers[j]!r} on line {pairs.lines[j]}",
                path=path,
                line=pairs.lines[i],
            )
    notes = list(pairs.notes)
    if len(keep) < len(pairs):
        notes.append(f"merged {len(pairs) - len(keep)} duplicate row(s)")
    return pairs.select(keep, notes)
