"""Arbitrary Unicode in: an Answer, a ValueError or a TypeError out — and eager agrees when both answer."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rnnqa.runtime import Answer, QAModel
from rnnqa.train.run import load_run

SPECIAL = st.sampled_from(["\u200b", "\u200d", "\u202e", "\u2066", "\ufeff", "\x00", "\x1b[31m", "\r", "🙂", "👩‍👩‍👧",
                           "\ud800", "\udfff", "İ", "ß", "ﬁ", "capital", "peru", "what", "?", "'", " "])
QUESTIONS = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec=None, categories=None), max_size=200),
    st.lists(SPECIAL, max_size=40).map("".join),
)


@pytest.fixture(scope="module")
def pair(make_run, make_bundle):
    run = load_run(make_run("gru", epochs=30))
    return QAModel.load(make_bundle("gru", epochs=30)), run


def eager_answer(run, ids):
    with torch.no_grad():
        ids_t, lengths = torch.tensor([ids]), torch.tensor([len(ids)])
        logits = run.model(ids_t, lengths)
        scale = run.model.answer_scale(ids_t, lengths, logits.argmax(dim=1)).double()  # the substitution gate
    probs = torch.softmax(logits.double(), dim=1)[0] * scale[0]
    best = int(probs.argmax())
    return run.vocab.answers[best], float(probs[best])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=QUESTIONS)
@example(question="x " * 500_000)  # a 1 MB question
@example(question="\ud800 what is the capital of peru \udfff")
@example(question="\u202ewhat\u200b is\ufeff the capital of peru")
def test_any_text_gets_an_answer_or_a_value_error(pair, question):
    model, run = pair
    try:
        answer = model.answer(question)
    except ValueError:
        return
    assert isinstance(answer, Answer) and 0.0 <= answer.confidence <= 1.0
    text, confidence = eager_answer(run, model.encode(question))
    assert answer.text == text
    assert answer.confidence == pytest.approx(confidence, abs=1e-5)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.none(), st.integers(), st.floats(), st.binary(), st.lists(st.text(max_size=3))))
def test_non_text_is_a_type_error(pair, value):
    with pytest.raises(TypeError):
        pair[0].answer(value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(questions=st.lists(QUESTIONS, min_size=2, max_size=8))
def test_batches_agree_with_single_answers_or_raise(pair, questions):
    model, _ = pair
    try:
        batch = model.answer_batch(questions)
    except ValueError:
        with pytest.raises(ValueError):
            [model.answer(q) for q in questions]
        return
    singles = [model.answer(q) for q in questions]
    assert [a.text for a in batch] == [a.text for a in singles]
    np.testing.assert_allclose([a.confidence for a in batch], [a.confidence for a in singles], atol=1e-6)
