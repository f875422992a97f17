"""The single-question path's substitution gate (rnnqa.runtime.gate) against its rule, as the docs state it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rnnqa.runtime.gate import SubstitutionGate


def rule(gate: SubstitutionGate, ids: list[int], answer: int) -> float:
    """The module docstring's rule, word for word: no shortcut, no derived table."""
    classes = gate.classes or {}
    mine = [classes.get(t, t) for t in ids if t in gate.content]
    asked = set(mine)
    counts = [(len(r) - len(r & asked), len([t for t in mine if t not in r])) for r in gate.questions[answer]]
    return gate.factor if (1, 1) in counts and (0, 0) not in counts else 1.0


ids = st.integers(0, 11)
tables = st.lists(st.lists(st.frozensets(ids, min_size=1, max_size=4), max_size=4), min_size=1, max_size=3)


@given(content=st.frozensets(ids, min_size=1), questions=tables, synonyms=st.booleans(),
       question=st.lists(ids, min_size=1, max_size=7), data=st.data())
def test_scale_follows_the_rule(content, questions, synonyms, question, data):
    classes = {3: 2, 2: 2, 7: 5, 5: 5} if synonyms else None
    gate = SubstitutionGate(content, tuple(tuple(rows) for rows in questions), 0.5, classes)
    answer = data.draw(st.integers(0, len(questions) - 1))
    assert gate.scale(question, answer) == rule(gate, question, answer)


def test_scale_closes_for_one_swap_and_opens_as_taught_or_for_a_synonym():
    gate = SubstitutionGate(frozenset({2, 3, 4, 5}), ((frozenset({2, 4}),),), 0.5, {4: 4, 5: 4})
    assert gate.scale([2, 4], 0) == 1.0  # as taught
    assert gate.scale([2, 5, 1], 0) == 1.0  # 5 is a synonym of 4, and 1 is no content word: as taught
    assert gate.scale([2, 3], 0) == 0.5  # 4 swapped for 3
    assert gate.scale([2, 4, 4], 0) == 1.0  # a repeated taught word: as taught
    assert gate.scale([2, 3, 3], 0) == 1.0  # 3 at two positions: two extra words, no single swap
    assert gate.scale([3, 5], 0) == 0.5  # 2 swapped for 3, 5 counted as 4
