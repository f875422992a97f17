"""Reading lists of questions that should get "I don't know": out-of-domain questions (one per line) and
near misses (a ``question,kind`` CSV, or one per line). Pure Python."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rnnqa.errors import DataError

_DATA = Path(__file__).resolve().parents[1] / "data"
# Shipped with the bundled dataset: questions it should answer "I don't know" to. qa-export --quantize probes
# refusals with them by default; QUALITY.md's figures use them.
DEFAULT_OOD = _DATA / "ood_questions.txt"  # 100 out-of-domain questions, answerable from neither dataset
DEFAULT_NEAR_MISS = _DATA / "default_near_miss.csv"  # 98 near misses of the bundled dataset (question,kind)


def read_questions(path: str | Path) -> list[str]:
    """Non-blank lines of a UTF-8 text file, trimmed.

    Raises:
        DataError: the file cannot be read, is not UTF-8, or has no questions.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise DataError(f"cannot read questions: {exc.strerror}", path=path) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"not valid UTF-8 at byte {exc.start}", path=path) from exc
    questions = [line.strip() for line in text.splitlines() if line.strip()]
    if not questions:
        raise DataError("no questions in file", path=path)
    return questions


def read_near_misses(path: str | Path) -> tuple[list[str], list[str] | None]:
    """Questions and their kinds from a ``question,kind`` CSV (``rnnqa/data/default_near_miss.csv``, ``quality/seed_near_miss.csv``), or questions
    alone (kinds None) from a file of one question per line.

    Raises:
        DataError: unreadable, not UTF-8, no questions, or a CSV row without both fields.
    """
    lines = read_questions(path)
    if lines[0].replace(" ", "").lower() != "question,kind":
        return lines, None
    text = Path(path).read_bytes().decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text))
    next(reader)
    questions, kinds = [], []
    for row in reader:
        if not any(field.strip() for field in row):
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise DataError(f"expected question,kind, got {row!r}", path=Path(path), line=reader.line_num)
        questions.append(row[0].strip())
        kinds.append(row[1].strip())
    if not questions:
        raise DataError("no questions in file", path=Path(path))
    return questions, kinds
