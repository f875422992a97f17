"""Derive the tokenizer's character tables from Python's Unicode database. A build step, not a runtime one.

The tables are written once into ``rnnqa/data/tokenizer_tables.json`` (shipped in the package), so
every run trains with the same tables whatever Python made it, and every runtime — Python,
JavaScript, or a port written from ``docs/tokenizer.md`` — reads the same data instead of asking its
own Unicode library, whose version and rules differ (JavaScript has no ``casefold``; ``\\w`` is
ASCII there and in RE2). Regenerate with ``python -m rnnqa.data.unicode_tables`` only together with
a new tokenizer version; a test checks the shipped file against this code.

Two character foldings:

* ``fold`` (the ``words``/``english``/``stem`` rules): each code point becomes NFKD, then full case
  folding (``str.casefold``: ß → ss, final ς → σ, Cherokee → upper case, İ → i̇), then NFKD again,
  with the generic combining diacritics (the five "Combining … Marks" blocks: é → e, İ → i),
  variation selectors and format characters (Cf: zero-width space and joiners, soft hyphen, BOM,
  bidi marks) removed, then NFC — repeated until nothing changes (it does after one step for
  every code point of Unicode 14). Per code point and context-free, so any language can apply it.
* ``lower`` (the ``notebook`` rule): ``str.lower`` of each single code point.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path

TABLES_FILE = Path(__file__).with_name("tokenizer_tables.json")
MAX_CODE_POINT = 0x10FFFF
SURROGATES = range(0xD800, 0xE000)
# Generic combining diacritics: removed by the fold, so "café" and "cafe\u0301" and "cafe" meet.
DIACRITIC_BLOCKS = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F))
VARIATION_SELECTORS = ((0x180B, 0x180F), (0xFE00, 0xFE0F), (0xE0100, 0xE01EF))
APOSTROPHES = (0x27, 0x60, 0x2018, 0x2019, 0x2BC)  # ' ` ‘ ’ ʼ — joiners inside a word
DROPPED_BY_NOTEBOOK = "?'"


def _in(code: int, ranges) -> bool:
    return any(lo <= code <= hi for lo, hi in ranges)


def _removed(char: str) -> bool:
    code = ord(char)
    return (_in(code, DIACRITIC_BLOCKS) or _in(code, VARIATION_SELECTORS)
            or unicodedata.category(char) == "Cf")


def _fold_step(text: str) -> str:
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return unicodedata.normalize("NFC", "".join(c for c in text if not _removed(c)))


def fold(char: str) -> str:
    """The ``fold`` of one code point (see the module docstring)."""
    text = char
    for _ in range(8):
        folded = _fold_step(text)
        if folded == text:
            return text
        text = folded
    raise ValueError(f"folding U+{ord(char):04X} does not settle")


def _code_points():
    return (chr(code) for code in range(MAX_CODE_POINT + 1) if code not in SURROGATES)


def _ranges(predicate) -> list[list[int]]:
    """Inclusive [first, last] code point ranges where ``predicate`` holds."""
    ranges: list[list[int]] = []
    for char in _code_points():
        code = ord(char)
        if predicate(char):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return ranges


def _map(function) -> dict[str, str]:
    """Lower-case hex code point → replacement, for every code point that ``function`` changes."""
    return {f"{ord(c):x}": out for c in _code_points() if (out := function(c)) != c}


def build_tables() -> dict:
    """Every table the presets use, from this Python's ``unicodedata``."""
    space = _ranges(str.isspace)
    return {
        "unicode": unicodedata.unidata_version,
        "fold": _map(fold),
        # Word characters after folding: letters and marks (kept marks belong to their letter), and numbers.
        "letters": _ranges(lambda c: unicodedata.category(c)[0] in "LM"),
        "digits": _ranges(lambda c: unicodedata.category(c)[0] == "N"),
        "joiners": list(APOSTROPHES),
        "space": space,
        "lower": {**_map(str.lower), **{f"{ord(c):x}": "" for c in DROPPED_BY_NOTEBOOK}},
        "not_space": _ranges(lambda c: not c.isspace()),
    }


def main() -> None:
    TABLES_FILE.write_text(json.dumps(build_tables(), ensure_ascii=False, separators=(",", ":")) + "\n",
                           encoding="utf-8")
    print(f"wrote {TABLES_FILE} (Unicode {unicodedata.unidata_version})", file=sys.stderr)


if __name__ == "__main__":
    main()
