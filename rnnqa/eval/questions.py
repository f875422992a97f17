"""Reading a plain list of questions (one per line), e.g. out-of-domain questions. Pure Python."""

from __future__ import annotations

from pathlib import Path

from rnnqa.errors import DataError


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
