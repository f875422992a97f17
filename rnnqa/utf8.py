"""Text read with ``surrogateescape``: each byte that is not UTF-8 kept as a lone surrogate, so a line or a
row is judged after it is read, not by a failed read. One rule for ``qa-ask``'s questions and ``--input``'s
rows."""

from __future__ import annotations

NOT_UTF8 = "not valid UTF-8"  # the error a question or row with such bytes gets


def is_utf8(text: str) -> bool:
    """False when ``text`` holds a byte that was not UTF-8 (a lone surrogate); one C-level encode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(text: str) -> str:
    """``text`` as a person sees it: each byte that was not UTF-8 as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
