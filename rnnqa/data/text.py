"""Text → ids: the tokenizer a vocabulary declares, and the vocabulary, shared by training and the runtime.

Pure Python on purpose (no torch, no pandas): ``rnnqa.runtime`` imports this module. Every new run
declares its tokenizer as data (version 2, :mod:`rnnqa.data.tokenizer`), so an app in another
language reproduces the ids from ``vocab.json`` alone (docs/tokenizer.md); runs and bundles made
before keep their version-1 rule by name (:mod:`rnnqa.data.legacy_tokenizer`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from rnnqa.data.tokenizer import PRESETS, DeclaredTokenizer, preset_declaration
from rnnqa.data.tokenizer import VERSIONS as TOKENIZER_VERSIONS
from rnnqa.errors import ConfigError, QuestionError, QuestionTypeError

if TYPE_CHECKING:  # imported when a version-1 vocabulary is read: every new run declares its tokenizer
    from rnnqa.data.legacy_tokenizer import LegacyTokenizer

PAD = "<PAD>"
UNK = "<UNK>"
PAD_ID = 0
UNK_ID = 1

TOKENIZERS = PRESETS  # qa-train --tokenizer: every new run declares its rule as data (version 2)

Tokenizer = Union[DeclaredTokenizer, "LegacyTokenizer"]


@functools.lru_cache(maxsize=None)
def make_tokenizer(kind: str = "stem") -> DeclaredTokenizer:
    """The declared (version 2) tokenizer of preset ``kind``: ``stem`` (the default), ``english``,
    ``words`` or ``notebook`` (docs/tokenizer.md).

    Raises:
        ConfigError: ``kind`` is not a preset.
    """
    return DeclaredTokenizer(preset_declaration(kind))


def tokenizer_from_json(spec: dict) -> Tokenizer:
    """The tokenizer a ``vocab.json`` declares: version 2 is interpreted from its data; a spec without
    a version is a version-1 rule by name, kept so older runs and bundles answer as they did.

    Raises:
        ConfigError: the spec is malformed or names an unknown rule.
    """
    if not isinstance(spec, dict) or not isinstance(spec.get("kind"), str):
        raise ConfigError(f"tokenizer spec must be an object with a 'kind', got {str(spec)[:80]!r}")
    version = spec.get("version", 1)
    if isinstance(version, bool):  # true == 1 in Python: not the version-1 rule
        raise ConfigError(f"tokenizer version {version!r} is not supported")
    if version == 1:
        from rnnqa.data.legacy_tokenizer import LegacyTokenizer

        return LegacyTokenizer(spec["kind"])
    if version in TOKENIZER_VERSIONS:
        return DeclaredTokenizer(spec)
    raise ConfigError(f"tokenizer version {version!r} is not supported (this rnnqa reads 1 to {TOKENIZER_VERSIONS[-1]}); "
                      "upgrade rnnqa")


@dataclass(frozen=True)
class Vocabulary:
    """Token ids (``<PAD>``=0, ``<UNK>``=1) and answer classes, with the tokenizer that made them.

    ``tokens[i]`` is the token of id ``i``; ``answers[j]`` is the answer of output index ``j``,
    verbatim as it appeared in the data.
    """

    tokens: tuple[str, ...]
    answers: tuple[str, ...]
    tokenizer: Tokenizer = field(default_factory=make_tokenizer)
    _index: dict[str, int] = field(init=False, repr=False, compare=False)
    _ids: Callable[[str], list[int]] = field(init=False, repr=False, compare=False)  # text → ids, uncut

    def __post_init__(self) -> None:
        if tuple(self.tokens[:2]) != (PAD, UNK):
            raise ConfigError(f"vocabulary must start with {PAD!r}, {UNK!r}")
        if len(set(self.tokens)) != len(self.tokens):
            raise ConfigError("vocabulary tokens are not unique")
        if not self.answers or len(set(self.answers)) != len(self.answers):
            raise ConfigError("vocabulary answers must be non-empty and unique")
        index = {tok: i for i, tok in enumerate(self.tokens)}
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_ids", self.tokenizer.id_encoder(index, UNK_ID) if hasattr(self.tokenizer, "id_encoder")
                           else lambda text: [index.get(tok, UNK_ID) for tok in self.tokenizer(text)])
        for key, value in getattr(self.tokenizer, "aliases", {}).items():
            if value not in self._index or key in self._index:
                raise ConfigError(f"tokenizer alias {key!r} → {value!r}: an alias maps a word outside the "
                                  "vocabulary onto a vocabulary token")

    @classmethod
    def build(
        cls, questions: Iterable[str], answers: Iterable[str], tokenizer: Tokenizer | None = None
    ) -> Vocabulary:
        """Collect tokens in order of first appearance and the distinct answers (sorted)."""
        tokenizer = tokenizer or make_tokenizer()
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
        ids = self._ids(text)
        return ids if max_len is None or len(ids) <= max_len else ids[:max_len]

    def question_encoder(self, max_len: int) -> Callable[[str], list[int]]:
        """:meth:`encode_question` with ``max_len`` fixed: one call on a runtime's hot path."""
        ids_of, is_blank = self._ids, self.tokenizer.is_blank

        def encode(question: str) -> list[int]:
            if not isinstance(question, str):
                raise QuestionTypeError(f"question must be a str, got {type(question).__name__}")
            ids = ids_of(question)
            if len(ids) > max_len:
                ids = ids[:max_len]
            if not ids:
                raise QuestionError("question is empty" if is_blank(question) else "question has no words")
            return ids

        return encode

    def encode_question(self, question: str, max_len: int) -> list[int]:
        """The ids a runtime feeds the graph for ``question``: :meth:`encode`, cut to ``max_len``.

        Raises:
            TypeError: ``question`` is not a string.
            ValueError: "question is empty" (only space characters) or "question has no words";
                every runtime raises these two messages for the same texts (conformance.json).
        """
        return self.question_encoder(max_len)(question)

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
            tokenizer = tokenizer_from_json(data["tokenizer"])
            pad_id, unk_id = data["pad_id"], data["unk_id"]
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"vocabulary JSON lacks field {exc}") from exc
        if (pad_id, unk_id) != (PAD_ID, UNK_ID) or type(pad_id) is not int or type(unk_id) is not int:
            raise ConfigError(f"vocabulary must use pad_id={PAD_ID}, unk_id={UNK_ID}")
        if not _all_str(tokens) or not _all_str(answers):
            raise ConfigError("vocabulary 'tokens' and 'answers' must be lists of strings")
        return cls(tuple(tokens), tuple(answers), tokenizer)


def _all_str(items: object) -> bool:
    return isinstance(items, list) and all(isinstance(x, str) for x in items)

