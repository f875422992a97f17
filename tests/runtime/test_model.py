import dataclasses
import threading

import numpy as np
import pytest
import torch

from rnnqa.bundle_format import DEFAULT_THRESHOLD
from rnnqa.data.table import default_dataset_path, load_qa_csv
from rnnqa.errors import BundleError
from rnnqa.runtime import UNKNOWN_TEXT, Answer, QAModel
from rnnqa.train.gate import GATE_FACTOR
from rnnqa.train.run import load_run

QUESTIONS = load_qa_csv(default_dataset_path()).questions


@pytest.fixture(scope="module")
def model(make_bundle):
    return QAModel.load(make_bundle("gru", epochs=30))


def eager_probabilities(run_dir, questions):
    run = load_run(run_dir)
    rows = [run.vocab.encode(q, run.model.config.max_len) for q in questions]
    out = []
    with torch.no_grad():
        for row in rows:  # one at a time, the notebook's way: no padding involved at all
            ids, lengths = torch.tensor([row]), torch.tensor([len(row)])
            logits = run.model(ids, lengths)
            scale = run.model.answer_scale(ids, lengths, logits.argmax(dim=1)).double()  # the substitution gate
            out.append((torch.softmax(logits.double(), dim=1) * scale[:, None])[0].numpy())
    return np.stack(out), run.vocab.answers


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_answers_and_confidences_match_the_eager_model(make_run, make_bundle, cell):
    model = QAModel.load(make_bundle(cell, epochs=30))
    probs, answers = eager_probabilities(make_run(cell, epochs=30), QUESTIONS)
    got = model.answer_batch(QUESTIONS)
    assert [a.text for a in got] == [answers[i] for i in probs.argmax(1)]
    np.testing.assert_allclose([a.confidence for a in got], probs.max(1), rtol=0, atol=1e-5)
    single = [model.answer(q) for q in QUESTIONS[:20]]
    assert [a.text for a in single] == [a.text for a in got[:20]]
    np.testing.assert_allclose([a.confidence for a in single], [a.confidence for a in got[:20]], atol=1e-6)


def test_answer_fields_threshold_and_str(model):
    answer = model.answer(QUESTIONS[0])
    assert isinstance(answer, Answer) and 0.0 <= answer.confidence <= 1.0
    assert answer.known == (answer.confidence >= model.threshold) and model.threshold == DEFAULT_THRESHOLD
    assert str(Answer("Paris", 0.4, False)) == UNKNOWN_TEXT and str(Answer("Paris", 0.9, True)) == "Paris"
    with pytest.raises(dataclasses.FrozenInstanceError):
        answer.text = "x"  # frozen
    # a frozen dataclass, as documented: equal to one built alike, asdict and replace work, no tuple
    assert answer == Answer(answer.text, answer.confidence, answer.known) and hash(answer) == hash(Answer(*answer_fields(answer)))
    assert dataclasses.asdict(answer) == {"text": answer.text, "confidence": answer.confidence, "known": answer.known}
    assert dataclasses.replace(answer, known=not answer.known).known != answer.known and answer != tuple(answer_fields(answer))
    # every way of answering builds the same instance as the constructor does (rnnqa.runtime.answer.make_answer)
    for got in [answer, *model.answer_batch(QUESTIONS[:2]), *model.top_k(QUESTIONS[0], 2)]:
        built = Answer(*answer_fields(got))
        assert repr(got) == repr(built) and vars(got) == vars(built) and type(got) is Answer
        assert (type(got.text), type(got.confidence), type(got.known)) == (str, float, bool)
        with pytest.raises(dataclasses.FrozenInstanceError):
            got.confidence = 1.0


def answer_fields(answer: Answer) -> tuple:
    return answer.text, answer.confidence, answer.known


def test_threshold_override(make_bundle):
    strict = QAModel.load(make_bundle("gru", epochs=30), threshold=1.0)
    assert strict.threshold == 1.0 and not strict.answer(QUESTIONS[0]).known
    with pytest.raises(ValueError, match="threshold"):
        QAModel.load(make_bundle("gru", epochs=30), threshold=1.5)


def test_top_k_is_sorted_and_starts_with_the_answer(model):
    top = model.top_k(QUESTIONS[3], 5)
    assert len(top) == 5 and top[0] == model.answer(QUESTIONS[3])
    assert [a.confidence for a in top] == sorted((a.confidence for a in top), reverse=True)
    assert len({a.text for a in top}) == 5
    assert len(model.top_k(QUESTIONS[3], 10_000)) == len(model.vocab.answers)
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError):
            model.top_k(QUESTIONS[3], bad)


@pytest.mark.parametrize("question", ["", "   ", "\t\n", "???", "'?'"])
def test_empty_or_tokenless_questions_are_value_errors(model, question):
    with pytest.raises(ValueError):
        model.answer(question)
    with pytest.raises(ValueError):
        model.answer_batch(["what is the capital of peru", question])


@pytest.mark.parametrize("question", [None, 42, b"bytes", ["list"]])
def test_non_strings_are_type_errors(model, question):
    with pytest.raises(TypeError):
        model.answer(question)
    with pytest.raises(TypeError):
        model.answer_batch([question])


def test_answer_batch_wants_a_sequence_not_a_string(model):
    with pytest.raises(TypeError):
        model.answer_batch("what is the capital of peru")
    assert model.answer_batch([]) == []


def test_no_questions_give_empty_arrays_not_an_aborted_process(model):
    """onnxruntime aborts the whole process on a (0, 0) batch; the runtime never sends one."""
    answers = len(model.vocab.answers)
    assert model.probabilities([]).shape == model.logits([]).shape == (0, answers)
    assert model.probabilities([]).dtype == np.float32
    with pytest.raises(TypeError):
        model.probabilities("what is the capital of peru")


def test_unknown_words_become_unk_and_long_questions_are_truncated(model):
    assert model.encode("zzyzx qwerty") == [1, 1]
    long = QUESTIONS[0] + " " + "filler " * 200
    assert len(model.encode(long)) == model.max_len
    ids = model.encode(long)
    words = long.split()[: model.max_len]
    assert model.answer(long) == model.answer(" ".join(words))
    assert ids == model.encode(" ".join(words))


class RecordingSession:
    def __init__(self, session):
        self.session, self.shapes = session, []

    def run(self, names, feeds):
        self.shapes.append((feeds["input_ids"].shape, feeds["lengths"].tolist()))
        return self.session.run(names, feeds)


def test_one_padded_call_per_batch_and_no_zero_length_rows(model):
    real = model._state
    recorder = RecordingSession(real.session)
    model._state = dataclasses.replace(real, session=recorder)
    try:
        model.answer_batch(QUESTIONS[:7])
        with pytest.raises(ValueError):
            model.answer_batch(["ok question", ""])
    finally:
        model._state = real
    assert len(recorder.shapes) == 1
    (shape, lengths), = recorder.shapes
    assert shape[0] == 7 and min(lengths) >= 1 and shape[1] == max(lengths)


def test_threads_give_the_same_answers_as_serial_calls(model):
    questions = QUESTIONS * 2
    serial = [model.answer(q) for q in questions]
    results: dict[int, list] = {}

    def work(t):
        results[t] = [model.answer(q) for q in questions[t::8]]

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for t in range(8):
        assert results[t] == serial[t::8]


def test_missing_provider_is_a_clear_error(make_bundle):
    with pytest.raises(BundleError, match="CUDAExecutionProvider not available"):
        QAModel.load(make_bundle("gru", epochs=30), providers=["CUDAExecutionProvider"])
    with pytest.raises(BundleError, match="threads"):
        QAModel.load(make_bundle("gru", epochs=30), threads=0)


def test_seed_bundle_answers_every_seed_question(seed_bundle, seed_csv):
    pairs = load_qa_csv(seed_csv)
    answers = QAModel.load(seed_bundle).answer_batch(pairs.questions)
    assert [a.text for a in answers] == pairs.answers
    assert all(a.known for a in answers)


def test_answer_survives_huge_logits(make_run, tmp_path):
    """Logits in the thousands (exp overflows even float64): the graph's softmax must stay finite."""
    import shutil

    from rnnqa.export.bundle import export_bundle

    run_dir = tmp_path / "run"
    shutil.copytree(make_run("gru", epochs=30), run_dir)
    state = torch.load(run_dir / "model.pt", weights_only=True)
    state["head.weight"] *= 400.0
    state["head.bias"] *= 400.0
    torch.save(state, run_dir / "model.pt")
    # Parity's 1e-5 on probabilities is not what is tested here (float32 logits of ±1000 round by ~1e-4).
    model = QAModel.load(export_bundle(run_dir, tmp_path / "bundle", atol=1e-3).bundle_dir)
    logits = model.logits(QUESTIONS[:40]).astype(np.float64)
    assert np.abs(logits).max() > 1000  # really beyond exp's float64 range
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    # the substitution gate halves some rows (a 30-epoch model's wrong answer to a training question can
    # make it "one word swapped" from that answer's questions): each row is scaled by 1 or GATE_FACTOR
    probabilities = model.probabilities(QUESTIONS[:40])
    scale = probabilities.max(1) / expected.max(1)
    assert np.all(np.isclose(scale, 1.0, atol=1e-4) | np.isclose(scale, GATE_FACTOR, atol=1e-4))
    expected *= np.where(np.isclose(scale, 1.0, atol=1e-4), 1.0, GATE_FACTOR)[:, None]
    for answers in ([model.answer(q) for q in QUESTIONS[:40]], model.answer_batch(QUESTIONS[:40])):
        assert [a.text for a in answers] == [model.vocab.answers[i] for i in logits.argmax(1)]
        np.testing.assert_allclose([a.confidence for a in answers], expected.max(1), rtol=0, atol=1e-5)
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-5)
