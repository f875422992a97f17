"""The substitution gate outside the graph, for the single-question path (``model_single.onnx``).

``model.onnx`` applies the gate itself (``rnnqa.train.gate``); the single-question graph stops at the
softmax, because the gate's dozen small tensor operations cost more inside onnxruntime (about 1 µs per
node) than the same check on a handful of Python ints. The tables come from the bundle's ``gate.json``,
written from the very buffers ``model.onnx`` holds, and export parity checks both paths against the
eager model. A runtime in another language does the same, or answers with ``model.onnx``.

``gate.json``::

    {"version": 1, "factor": 0.5,
     "content": [ids of the content words],
     "questions": [for each answer index, its training questions, each as the sorted ids of its content words]}

The rule, exactly as ``rnnqa.train.gate.substituted`` computes it: for the chosen answer's training
questions ``R``, with ``Q`` the question's ids and ``S`` how many of them are content words,
``missing = |R| - |R ∩ set(Q)|`` and ``extra = S - (positions of Q whose id is in R)``. The gate closes
(the confidence is multiplied by ``factor``) when some ``R`` has ``missing == extra == 1`` and none has
``missing == extra == 0``.

Version 2 adds ``"synonyms"``: groups of token ids (each id in at most one group) whose words are
WordNet synonyms. Each id of ``Q`` is first replaced by its group's smallest id (its *class*; an id in
no group is its own class), and ``questions`` hold classes: a swap for a synonym is no swap.
``content`` still lists token ids.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

_OTHER = frozenset([None])  # what a question's words that are not content words add to its classes
GATE_VERSION = 1
SYNONYM_GATE_VERSION = 2  # version 1 with "synonyms"


@dataclass(frozen=True)
class SubstitutionGate:
    content: frozenset[int]
    questions: tuple[tuple[frozenset[int], ...], ...]  # per answer index (none: the gate stays open)
    factor: float
    classes: dict[int, int] | None = None  # token id → its synonym class, for ids in a group (version 2)
    # Derived, for scale(): each content id's class (None for the other ids), and each answer's questions as
    # one set to look up, each question twice: as it is, and with None (for a question with other words).
    _class_of: Callable[[int], int | None] = field(init=False, repr=False, compare=False)
    _taught: tuple[frozenset[frozenset[int | None]], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        classes = self.classes or {}
        object.__setattr__(self, "_class_of", {t: classes.get(t, t) for t in self.content}.get)
        object.__setattr__(self, "_taught", tuple(frozenset([*rows, *(r | _OTHER for r in rows)])
                                                  for rows in self.questions))

    def scale(self, ids: Sequence[int], answer: int) -> float:
        """What the chosen ``answer``'s confidence is multiplied by for the question ``ids``: 1, or
        ``factor`` when the question is one of that answer's training questions with one content word
        swapped."""
        class_of = self._class_of
        if frozenset(map(class_of, ids)) in self._taught[answer]:  # missing == extra == 0 for some R is
            return 1.0                                              # R == the classes asked: the gate is open
        mine = [c for c in map(class_of, ids) if c is not None]
        asked = frozenset(mine)
        for words in self.questions[answer]:
            if len(words) - len(words & asked) == 1 and sum(t not in words for t in mine) == 1:
                return self.factor
        return 1.0

    @classmethod
    def from_json(cls, data: object, vocab_size: int, num_answers: int) -> SubstitutionGate:
        """Check and rebuild ``gate.json``.

        Raises:
            ValueError: not version 1, a factor outside (0, 1], ids outside the vocabulary, or not one
                list of questions per answer.
        """
        if not isinstance(data, dict) or data.get("version") not in (GATE_VERSION, SYNONYM_GATE_VERSION):
            raise ValueError(f"not a version-{GATE_VERSION} or -{SYNONYM_GATE_VERSION} gate table")
        factor = data.get("factor")
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0.0 < factor <= 1.0:
            raise ValueError(f"'factor' must be a number in (0, 1], got {factor!r}")
        content = _ids(data.get("content"), vocab_size, "'content'")
        questions = data.get("questions")
        if not isinstance(questions, list) or len(questions) != num_answers:
            raise ValueError(f"'questions' must hold one list per answer ({num_answers})")
        tables = []
        for index, rows in enumerate(questions):  # empty for an answer taught by validation questions only
            if not isinstance(rows, list):
                raise ValueError(f"'questions'[{index}] must be a list of questions")
            tables.append(tuple(frozenset(_ids(row, vocab_size, f"'questions'[{index}]")) for row in rows))
        classes = None
        if data["version"] == SYNONYM_GATE_VERSION:
            groups = data.get("synonyms")
            if not isinstance(groups, list):
                raise ValueError("'synonyms' must be a list of groups of token ids")
            classes = {}
            for group in groups:
                group = _ids(group, vocab_size, "'synonyms'")
                if len(group) < 2 or any(t in classes for t in group):
                    raise ValueError("'synonyms' groups hold two or more ids, each id in one group")
                classes.update(dict.fromkeys(group, min(group)))
        elif "synonyms" in data:
            raise ValueError(f"'synonyms' needs version {SYNONYM_GATE_VERSION}")
        return cls(frozenset(content), tuple(tables), float(factor), classes)


def _ids(value: object, vocab_size: int, where: str) -> list[int]:
    if not isinstance(value, list) or not all(type(i) is int and 0 <= i < vocab_size for i in value):
        raise ValueError(f"{where} must be a list of token ids below {vocab_size}")
    return value
