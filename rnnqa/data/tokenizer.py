"""The declared tokenizer (version 2): every rule that turns text into tokens is data, interpreted here.

The declaration travels in ``vocab.json`` (``"tokenizer"``); ``docs/tokenizer.md`` is its spec, written
so that a port needs no Python. Four presets (``stem``, ``english``, ``words``, ``notebook``) are made
from the tables in ``tokenizer_tables.json`` (see :mod:`rnnqa.data.unicode_tables`); a declaration read
from a run or a bundle is interpreted as written, whatever tables this rnnqa ships.

The algorithm, per code point of the text: (1) ``map`` replaces it (possibly by nothing); (2) each
resulting code point is a letter, a digit, a joiner, or else a separator; (3) words are the runs of
letters, digits and joiners; inside a word the joiners are removed, and with ``drop_s_after_joiner``
an ``s`` that follows a joiner which follows something is removed too ("france's" → "france");
(4) ``stem`` rewrites the end of words made only of letters. Pure Python; no torch, no pandas.
"""

from __future__ import annotations

import bisect
import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rnnqa.errors import ConfigError

SPEC = "rnnqa-tokenizer"
VERSION = 2
ALIAS_VERSION = 3  # version 2 with ``aliases`` (step 6): a runtime that reads only 2 must refuse such a declaration
VERSIONS = (VERSION, ALIAS_VERSION)
PRESETS = ("notebook", "words", "english", "stem")
TABLES_FILE = Path(__file__).with_name("tokenizer_tables.json")
MAX_CODE_POINT = 0x10FFFF
# The "stem" preset: the first rule whose suffix ends the word and whose conditions hold rewrites it;
# only words of at least 5 letters ("painter", "painted", "painting" → "paint"; "countries" → "country").
STEM_RULES = (
    {"suffix": "ies", "replacement": "y", "min_rest": 0},
    *({"suffix": s, "replacement": "", "min_rest": 4} for s in ("ing", "est", "ers", "ors", "er", "or", "ed")),
    {"suffix": "s", "replacement": "", "min_rest": 4, "except_suffix": "ss"},
)
STEM_MIN_LENGTH = 5
_SEPARATOR = " "  # what a separator becomes inside str.translate (never a word character; checked)
_JOINER_MARKERS = (0x27, 0x0, 0xFFFF, 0x9)
# What str.split() splits at (chr(c).isspace() over every code point: tests/data/test_tokenizer.py), written out:
# computing it costs a millisecond of every command's start.
WHITESPACE = (0x9, 0xA, 0xB, 0xC, 0xD, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028,
              0x2029, 0x202F, 0x205F, 0x3000)
_CACHED_WORDS = 1 << 14  # id_encoder's word → id cache is emptied when it holds this many (~2 MB)
_CACHED_CODE_POINTS = 0x10000  # translation entries cached for the BMP only: bounded memory on any input
_HEX_KEY = re.compile(r"0|[1-9a-f][0-9a-f]*")
_HEX_KEYS = re.compile(r"(?:(?:0|[1-9a-f][0-9a-f]*)\n)*")  # every key at once, each ended by "\n"


@functools.lru_cache(maxsize=None)
def _tables() -> dict:
    return json.loads(TABLES_FILE.read_text(encoding="utf-8"))


def preset_declaration(kind: str) -> dict:
    """The version-2 declaration of preset ``kind`` (made from the tables shipped with rnnqa).

    Raises:
        ConfigError: ``kind`` is not a preset.
    """
    if kind not in PRESETS:
        raise ConfigError(f"unknown tokenizer {kind!r}; choose one of {', '.join(PRESETS)}")
    tables = _tables()
    notebook = kind == "notebook"
    return {
        "spec": SPEC,
        "version": VERSION,
        "kind": kind,
        "unicode": tables["unicode"],
        "map": tables["lower" if notebook else "fold"],
        "letters": tables["not_space" if notebook else "letters"],
        "digits": [] if notebook else tables["digits"],
        "joiners": [] if notebook else tables["joiners"],
        "drop_s_after_joiner": kind in ("english", "stem"),
        "stem": {"min_length": STEM_MIN_LENGTH, "rules": list(STEM_RULES)} if kind == "stem" else None,
        "space": tables["space"],
    }


@dataclass(frozen=True)
class _StemRule:
    suffix: str
    replacement: str
    min_rest: int
    except_suffix: str | None


class DeclaredTokenizer:
    """Interprets one version-2 declaration. Immutable; compares equal to another of the same declaration."""

    def __init__(self, declaration: dict):
        self._declaration = declaration
        try:
            self.kind = _field(declaration, "kind", str)
            self._map = _map(_field(declaration, "map", dict))
            self._letters = _Ranges(_field(declaration, "letters", list), "letters")
            self._digits = _Ranges(_field(declaration, "digits", list), "digits")
            self._space = _Ranges(_field(declaration, "space", list), "space")
            self._joiners = frozenset(_code_point(j) for j in _field(declaration, "joiners", list))
            self._drop_s = _field(declaration, "drop_s_after_joiner", bool)
            stem = declaration.get("stem")
            self._stem_min, self._stem_rules = _stem_rules(stem) if stem is not None else (0, ())
            self._aliases, self._phrase_len = _aliases(declaration)
            self._phrase_starts = frozenset(k.split(" ", 1)[0] for k in self._aliases if " " in k)
        except (TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"tokenizer declaration: {exc}") from exc
        if declaration.get("spec") != SPEC or declaration.get("version") not in VERSIONS:
            raise ConfigError(f"tokenizer declaration must have spec {SPEC!r} and version {VERSION} or {ALIAS_VERSION}")
        self.version = declaration["version"]
        if self._space.overlaps(self._letters, self._digits):
            raise ConfigError("tokenizer declaration: space characters must not be letters or digits")
        if self.char_class(ord(_SEPARATOR)) != "separator":
            raise ConfigError("tokenizer declaration: U+0020 (space) must be a separator, not a joiner, letter or digit")
        # The joiners' stand-in inside str.translate: a character that is not a word character, or else the
        # lowest joiner (never U+0020): a joiner is always written as the stand-in, so it is never ambiguous.
        self._joiner = next((chr(c) for c in _JOINER_MARKERS if not self.is_word_char(c)),
                            chr(min(self._joiners)) if self._joiners else None)
        self._translation = _Translation(self._translate_code_point)
        # ASCII text (most questions) goes through a plain dict: str.translate's fast path (~40% faster).
        self._ascii = {code: self._translate_code_point(code) for code in range(128)}
        # str.split() (any whitespace, no empty strings) is exact when no word character is whitespace.
        self._split_on_whitespace = not (any(map(self.is_word_char, WHITESPACE))
                                         or (self._joiner is not None and self._joiner.isspace()))
        # Step 5 for one word (identity without stem rules); cached: questions repeat their words.
        self.stem_word = functools.lru_cache(maxsize=1 << 16)(self._stem_uncached)
        # Steps 5 and 6 for one word, cached; a phrase can start only where a token's alias is in
        # _phrase_marks (a superset: a mark may also come from another word, which only takes the long way).
        aliases = self._aliases
        self._token_of = functools.lru_cache(maxsize=1 << 16)(lambda word: aliases.get(self.stem_word(word),
                                                                                        self.stem_word(word)))
        self._phrase_marks = frozenset(aliases.get(t, t) for t in self._phrase_starts)

    def __call__(self, text: str) -> list[str]:
        """The tokens of ``text``.

        Raises:
            TypeError: ``text`` is not a string.
        """
        words = self.words(text)
        if self._aliases:
            tokens = list(map(self._token_of, words))
            if self._phrase_marks.isdisjoint(tokens):  # word by word (the common case)
                return tokens
            return self._alias(list(map(self.stem_word, words)))
        return list(map(self.stem_word, words)) if self._stem_rules else words

    def id_encoder(self, index: dict[str, int], unk_id: int) -> Callable[[str], list[int]]:
        """``text → [index.get(t, unk_id) for t in self(text)]`` with one cache from word to id (steps 5
        and 6 and the look-up, per word): the runtime's hot path. A word whose stem may start a phrase alias
        is cached as ``~id`` (negative): only a text with such a word runs step 6 over its stems.

        Raises:
            TypeError: ``text`` is not a string.
        """
        starts, get = self._phrase_starts, index.get
        ascii_table, translation, split_on_whitespace = self._ascii, self._translation, self._split_on_whitespace
        joiner, join = (self._joiner, self._join) if self._joiners else (None, None)
        token_of = self._token_of if self._aliases else self.stem_word if self._stem_rules else None

        cache: dict[str, int] = {}  # a plain dict: map(cache.get, …) is the cheapest look-up Python has
        cached = cache.get

        def id_of(word: str) -> int:
            i = get(word if token_of is None else token_of(word), unk_id)
            if starts and self.stem_word(word) in starts:
                i = ~i
            if len(cache) >= _CACHED_WORDS:  # bounded on any input
                cache.clear()
            cache[word] = i
            return i

        def encode(text: str) -> list[int]:
            if not isinstance(text, str):
                raise TypeError(f"expected a question as str, got {type(text).__name__}")
            text = text.translate(ascii_table if text.isascii() else translation)  # steps 1-4, as words() does
            found = text.split() if split_on_whitespace else [w for w in text.split(_SEPARATOR) if w]
            if joiner is not None and joiner in text:
                found = [w for w in (join(w) if joiner in w else w for w in found) if w]
            ids = list(map(cached, found))
            if None in ids:
                ids = [id_of(w) if i is None else i for w, i in zip(found, ids)]
            if starts and ids and min(ids) < 0:  # a phrase may start here: step 6 over the stems
                return [get(t, unk_id) for t in self._alias(list(map(self.stem_word, found)))]
            return ids

        return encode

    def words(self, text: str) -> list[str]:
        """Steps 1–4 of ``text``: its words before stemming and aliases.

        Raises:
            TypeError: ``text`` is not a string.
        """
        if not isinstance(text, str):
            raise TypeError(f"expected a question as str, got {type(text).__name__}")
        text = text.translate(self._ascii if text.isascii() else self._translation)
        words = text.split() if self._split_on_whitespace else [w for w in text.split(_SEPARATOR) if w]
        if self._joiners and self._joiner in text:
            joiner = self._joiner
            words = [w for w in (self._join(w) if joiner in w else w for w in words) if w]
        return words

    @property
    def aliases(self) -> dict[str, str]:
        return dict(self._aliases)

    def with_aliases(self, aliases: dict[str, str]) -> DeclaredTokenizer:
        """This declaration with ``aliases`` (version 3), or without any (version 2) when empty."""
        declaration = {k: v for k, v in self._declaration.items() if k != "aliases"}
        declaration["version"] = ALIAS_VERSION if aliases else VERSION
        if aliases:
            declaration["aliases"] = dict(sorted(aliases.items()))
        return DeclaredTokenizer(declaration)

    def without_aliases(self) -> DeclaredTokenizer:
        return self.with_aliases({}) if self._aliases else self

    def _alias(self, tokens: list[str]) -> list[str]:
        """Step 6: left to right, the longest run of tokens (joined by " ") that is a key, else the token
        itself, is replaced by its alias; replacements are not aliased again."""
        aliases, starts = self._aliases, self._phrase_starts
        if starts.isdisjoint(tokens):  # no phrase can start here: word by word (the common case)
            return [aliases.get(t, t) for t in tokens]
        out, i = [], 0
        while i < len(tokens):
            n = min(self._phrase_len, len(tokens) - i) if tokens[i] in starts else 1
            while n > 1 and " ".join(tokens[i: i + n]) not in aliases:
                n -= 1
            key = tokens[i] if n == 1 else " ".join(tokens[i: i + n])
            out.append(aliases.get(key, key))
            i += n
        return out

    def is_blank(self, text: str) -> bool:
        """Whether ``text`` holds only ``space`` characters (the runtime then says "question is empty")."""
        return all(self._space.has(ord(c)) for c in text)

    def to_json(self) -> dict:
        return self._declaration

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DeclaredTokenizer) and other._declaration == self._declaration

    def __hash__(self) -> int:
        return hash((self.kind, len(self._map)))

    def __repr__(self) -> str:
        return f"DeclaredTokenizer(kind={self.kind!r}, version={self.version})"

    def char_class(self, code: int) -> str:
        """Step 2 for code point ``code``: "joiner", "letter", "digit" or "separator", in that order."""
        if code in self._joiners:
            return "joiner"
        if self._letters.has(code):
            return "letter"
        return "digit" if self._digits.has(code) else "separator"

    def is_word_char(self, code: int) -> bool:
        """Whether code point ``code`` is a letter or a digit (step 2)."""
        return self._letters.has(code) or self._digits.has(code)

    def _translate_code_point(self, code: int) -> str | None:
        """What str.translate writes for ``code``: its mapping with each separator as " " and each joiner
        as the joiner marker, or None to drop it."""
        mapped = self._map.get(code)
        if mapped is None:
            mapped = chr(code)
        marks = {"joiner": self._joiner, "separator": _SEPARATOR}
        out = "".join(marks.get(self.char_class(ord(c)), c) for c in mapped)
        return out or None

    def _join(self, word: str) -> str:
        """Remove the joiners of ``word``; with drop_s_after_joiner, also an "s" part after a non-empty one."""
        parts = word.split(self._joiner)
        if self._drop_s:
            parts = [parts[0], *(p for i, p in enumerate(parts[1:]) if not (p == "s" and parts[i]))]
        return "".join(parts)

    def _stem_uncached(self, word: str) -> str:
        if len(word) < self._stem_min or not all(self._letters.has(ord(c)) for c in word):
            return word
        for rule in self._stem_rules:
            if (word.endswith(rule.suffix) and len(word) - len(rule.suffix) >= rule.min_rest
                    and not (rule.except_suffix and word.endswith(rule.except_suffix))):
                return word[: len(word) - len(rule.suffix)] + rule.replacement
        return word


class _Translation(dict):
    """A ``str.translate`` table computed on demand; entries below U+10000 are kept (at most 65,536)."""

    def __init__(self, compute):
        super().__init__()
        self._compute = compute

    def __missing__(self, code: int) -> str | None:
        value = self._compute(code)
        if code < _CACHED_CODE_POINTS:
            self[code] = value
        return value


class _Ranges:
    """Sorted, disjoint, inclusive code point ranges with an O(log n) membership test."""

    def __init__(self, ranges: Sequence, name: str):
        if not all(isinstance(r, list) and len(r) == 2 for r in ranges):
            raise ValueError(f"{name} must be [first, last] pairs of integer code points")
        pairs = [(_code_point(lo), _code_point(hi)) for lo, hi in ranges]
        if any(lo > hi for lo, hi in pairs) or any(a[1] >= b[0] for a, b in zip(pairs, pairs[1:])):
            raise ValueError(f"{name} must be sorted, disjoint [first, last] ranges")
        self._starts = [lo for lo, _ in pairs]
        self._ends = [hi for _, hi in pairs]

    def has(self, code: int) -> bool:
        i = bisect.bisect_right(self._starts, code) - 1
        return i >= 0 and code <= self._ends[i]

    def overlaps(self, *others: _Ranges) -> bool:
        return any(o.has(c) for lo, hi in zip(self._starts, self._ends) for c in range(lo, hi + 1) for o in others)


def _field(declaration: dict, name: str, kind: type):
    if not isinstance(declaration, dict):
        raise TypeError("must be a JSON object")
    value = declaration.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):  # true is not an integer
        raise TypeError(f"{name!r} must be a {kind.__name__}, got {type(value).__name__}")
    return value


def _map(mapping: dict) -> dict[int, str]:
    """``map``: code point → what it becomes. Checked in bulk (7,000 entries in a bundle: this is load time); the
    first bad entry gets the one-entry checks' message."""
    keys, values = list(mapping), list(mapping.values())
    joined = "\n".join(keys) + "\n" if all(type(k) is str for k in keys) else ""
    if (_HEX_KEYS.fullmatch(joined) and joined.count("\n") == len(keys)  # no key holds the separator
            and all(type(v) is str for v in values)):
        codes = [int(k, 16) for k in keys]
        if not codes or max(codes) <= MAX_CODE_POINT:
            return dict(zip(codes, values))
    return {_map_key(k): _check_str(v, f"map[{k!r}]") for k, v in mapping.items()}


def _map_key(key: str) -> int:
    """A ``map`` key: the code point in lower-case hexadecimal, no prefix, no padding ("df", "1d400")."""
    if not _HEX_KEY.fullmatch(key):
        raise ValueError(f"not a code point: {key!r} (lower-case hexadecimal, no prefix, no leading zeros)")
    return _code_point(int(key, 16), key)


def _code_point(value: object, written: object = None) -> int:
    """A code point written as a JSON integer (ranges, joiners): not a string, not true, not 97.0."""
    if type(value) is not int or not 0 <= value <= MAX_CODE_POINT:
        raise ValueError(f"not a code point: {value if written is None else written!r} (an integer 0 to 0x10FFFF)")
    return value


def _check_str(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{where} must be a string")
    return value


def _aliases(declaration: dict) -> tuple[dict[str, str], int]:
    """``aliases`` (version 3 only): keys are one token or tokens joined by single spaces, values one token."""
    if "aliases" not in declaration:
        return {}, 0
    if declaration.get("version") != ALIAS_VERSION:
        raise ValueError(f"'aliases' needs version {ALIAS_VERSION}")
    aliases = _field(declaration, "aliases", dict)
    values = list(aliases.values())  # 5,000 in a bundle: checked in bulk, entry by entry only to name a bad one
    keys = "\0".join(aliases) if all(type(k) is str for k in aliases) else None
    bulk_ok = (keys is not None and all(map(len, aliases)) and not keys.startswith(" ") and not keys.endswith(" ")
               and not any(bad in keys for bad in ("  ", "\0 ", " \0"))
               and all(type(v) is str for v in values) and all(values) and " " not in "".join(values))
    for key, value in () if bulk_ok else aliases.items():
        if (not isinstance(key, str) or not key or key[0] == " " or key[-1] == " " or "  " in key
                or not isinstance(value, str) or not value or " " in value):
            raise ValueError(f"aliases[{key!r}]: keys are tokens joined by single spaces, values one token")
    return aliases, max((key.count(" ") + 1 for key in aliases if " " in key), default=1 if aliases else 0)


def _stem_rules(stem: dict) -> tuple[int, tuple[_StemRule, ...]]:
    min_length = _field(stem, "min_length", int)
    rules = tuple(
        _StemRule(_field(r, "suffix", str), _field(r, "replacement", str), _field(r, "min_rest", int),
                  r.get("except_suffix"))
        for r in _field(stem, "rules", list)
    )
    if any(not r.suffix or (r.except_suffix is not None and not (isinstance(r.except_suffix, str) and r.except_suffix))
           for r in rules):
        raise ValueError("stem rules need a non-empty suffix and an optional non-empty string except_suffix")
    return min_length, rules
