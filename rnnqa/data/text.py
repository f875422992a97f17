"""Text → ids: the one tokenizer and the vocabulary, shared by training and the runtime.

Pure Python on purpose (no torch, no pandas): ``rnnqa.runtime`` imports this module, and an app in
another language can reproduce ids from the JSON this module writes.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from rnnqa.errors import ConfigError

PAD = "<PAD>"
UNK = "<UNK>"
PAD_ID = 0
UNK_ID = 1

# "notebook": the teaching notebook's rule, kept as the reference: lowercase, drop "?" and "'",
#             split on whitespace ("paris?" and "paris" match; "paris," and "paris" do not).
# "words":    Unicode NFKC + casefold, apostrophes removed ("earth's" -> "earths"), then the runs of
#             letters/digits; every other character separates words ("new-york" -> "new", "york").
# "english":  "words", but a possessive or contracted 's is dropped first, so a reworded "France's
#             capital" meets the "capital of France" it was trained on ("earth's" -> "earth",
#             "what's" -> "what").
# "stem":     "english", then a light suffix stemmer (see `stem`), so "painter", "painted" and
#             "painting" all become "paint"; qa-train's default (QUALITY.md).
TOKENIZERS = ("notebook", "words", "english", "stem")
_WORD_RE = re.compile(r"[^\W_]+")
_APOSTROPHES = str.maketrans("", "", "'\u2019\u2018`")
_POSSESSIVE_RE = re.compile(r"(?<=[^\W_])['\u2019]s\b")  # after casefold: "earth's" -> "earth"
# The "words" rule for ASCII-only text in one C call: NFKC and casefold leave ASCII as lower(), and
# [^\W_] matches exactly [A-Za-z0-9] there. Same tokens as the general path (tested), ~4× faster.
_ASCII_WORDS = str.maketrans({
    code: chr(code).lower() if chr(code).isalnum() else None if chr(code) in "'`" else " " for code in range(128)
})


@dataclass(frozen=True)
class Tokenizer:
    """A named, versioned tokenization rule; its JSON form travels in ``vocab.json``."""

    kind: str = "notebook"

    def __post_init__(self) -> None:
        if self.kind not in TOKENIZERS:
            raise ConfigError(f"unknown tokenizer {self.kind!r}; choose one of {', '.join(TOKENIZERS)}")

    def __call__(self, text: str) -> list[str]:
        """Split ``text`` into tokens.

        Raises:
            TypeError: ``text`` is not a string.
        """
        if not isinstance(text, str):
            raise TypeError(f"expected a question as str, got {type(text).__name__}")
        if self.kind == "notebook":
            return text.lower().replace("?", "").replace("'", "").split()
        english = self.kind != "words"
        if text.isascii():
            if english and "'" in text:
                text = _POSSESSIVE_RE.sub("", text.lower())
            tokens = text.translate(_ASCII_WORDS).split()
        else:
            tokens = _unicode_words(text, english)
        return list(map(stem, tokens)) if self.kind == "stem" else tokens  # map: ~20% cheaper than a listcomp

    def to_json(self) -> dict:
        return {"kind": self.kind}

    @classmethod
    def from_json(cls, spec: dict) -> Tokenizer:
        if not isinstance(spec, dict) or not isinstance(spec.get("kind"), str):
            raise ConfigError(f"tokenizer spec must be an object with a 'kind', got {spec!r}")
        return cls(spec["kind"])


@dataclass(frozen=True)
class Vocabulary:
    """Token ids (``<PAD>``=0, ``<UNK>``=1) and answer classes, with the tokenizer that made them.

    ``tokens[i]`` is the token of id ``i``; ``answers[j]`` is the answer of output index ``j``,
    verbatim as it appeared in the data.
    """

    tokens: tuple[str, ...]
    answers: tuple[str, ...]
    tokenizer: Tokenizer = Tokenizer()
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if tuple(self.tokens[:2]) != (PAD, UNK):
            raise ConfigError(f"vocabulary must start with {PAD!r}, {UNK!r}")
        if len(set(self.tokens)) != len(self.tokens):
            raise ConfigError("vocabulary tokens are not unique")
        if not self.answers or len(set(self.answers)) != len(self.answers):
            raise ConfigError("vocabulary answers must be non-empty and unique")
        object.__setattr__(self, "_index", {tok: i for i, tok in enumerate(self.tokens)})

    @classmethod
    def build(
        cls, questions: Iterable[str], answers: Iterable[str], tokenizer: Tokenizer = Tokenizer()
    ) -> Vocabulary:
        """Collect tokens in order of first appearance and the distinct answers (sorted)."""
        seen: dict[str, None] = {PAD: None, UNK: None}
        for question in questions:
            seen.update(dict.fromkeys(tokenizer(question)))
        return cls(tuple(seen), tuple(sorted(set(answers))), tokenizer)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def pad_id(self) -> int:
        return PAD_ID

    @property
    def unk_id(self) -> int:
        return UNK_ID

    def encode(self, text: str, max_len: int | None = None) -> list[int]:
        """Token ids of ``text``; unknown words map to ``<UNK>``, the rest beyond ``max_len`` is cut."""
        ids = [self._index.get(tok, UNK_ID) for tok in self.tokenizer(text)]
        return ids if max_len is None else ids[:max_len]

    def answer_index(self, answer: str) -> int:
        return self.answers.index(answer)

    def to_json(self) -> dict:
        return {
            "tokenizer": self.tokenizer.to_json(),
            "pad_id": PAD_ID,
            "unk_id": UNK_ID,
            "tokens": list(self.tokens),
            "answers": list(self.answers),
        }

    @classmethod
    def from_json(cls, data: dict) -> Vocabulary:
        """Rebuild from :meth:`to_json` output.

        Raises:
            ConfigError: a field is missing or has the wrong type.
        """
        try:
            tokens, answers = data["tokens"], data["answers"]
            tokenizer = Tokenizer.from_json(data["tokenizer"])
            pad_id, unk_id = data["pad_id"], data["unk_id"]
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"vocabulary JSON lacks field {exc}") from exc
        if (pad_id, unk_id) != (PAD_ID, UNK_ID):
            raise ConfigError(f"vocabulary must use pad_id={PAD_ID}, unk_id={UNK_ID}")
        if not _all_str(tokens) or not _all_str(answers):
            raise ConfigError("vocabulary 'tokens' and 'answers' must be lists of strings")
        return cls(tuple(tokens), tuple(answers), tokenizer)


def _unicode_words(text: str, english: bool = False) -> list[str]:
    """The "words" (or "english") rule for any text: the definition the ASCII fast path must match."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if english:
        text = _POSSESSIVE_RE.sub("", text)
    return _WORD_RE.findall(text.translate(_APOSTROPHES))


_SUFFIXES = ("ing", "est", "ers", "ors", "er", "or", "ed")  # tried in this order


@functools.lru_cache(maxsize=1 << 16)  # questions repeat their words: a dict hit instead of the rules
def stem(word: str) -> str:
    """The "stem" tokenizer's suffix rule for one lower-case word; words of letters only, 5 or more:

    "-ies" → "-y" ("countries" → "country"); else the first of -ing, -est, -ers, -ors, -er, -or, -ed
    that leaves 4 letters or more ("painter", "painted", "painting" → "paint"; "inventor" →
    "invent"; "water" stays); else a final "s" (not "ss") that leaves 4 or more ("planets" → "planet").
    Crude on purpose: training and questions go through the same rule, so it only has to map a
    reworded word onto the trained one, and it is short enough to port to any runtime.
    """
    if len(word) < 5 or not word.isalpha():
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _all_str(items: object) -> bool:
    return isinstance(items, list) and all(isinstance(x, str) for x in items)

