"""conformance.json: every vector is what the Python runtime does with the bundle it came with."""

import json

import pytest

from rnnqa.data.table import default_dataset_path, load_qa_csv
from rnnqa.export.conformance import HARD_STRINGS, TOLERANCE
from rnnqa.runtime import QAModel


@pytest.fixture(scope="module")
def bundle(make_bundle):
    return make_bundle("gru", epochs=30)


@pytest.fixture(scope="module")
def vectors(bundle):
    return json.loads((bundle / "conformance.json").read_text(encoding="utf-8"))


def test_vectors_cover_every_training_question_and_every_hard_string(vectors):
    texts = [v["text"] for v in vectors["vectors"]]
    questions = load_qa_csv(default_dataset_path()).questions
    assert texts[: len(questions)] == questions
    assert texts[len(questions): len(questions) + len(HARD_STRINGS)] == [text for _, text in HARD_STRINGS]
    long = vectors["vectors"][-1]
    assert long["label"].startswith("longer than max_len")
    assert len(long["tokens"]) > vectors["max_len"] == len(long["ids"])
    assert vectors["tolerance"] == TOLERANCE and vectors["threshold"] == 0.65


def test_vectors_are_what_the_runtime_answers(bundle, vectors):
    model = QAModel.load(bundle)
    errors = 0
    for vector in vectors["vectors"]:
        assert model.vocab.tokenizer(vector["text"]) == vector["tokens"], vector["label"]
        if "error" in vector:
            errors += 1
            with pytest.raises(ValueError, match=vector["error"]):
                model.answer(vector["text"])
            continue
        assert model.encode(vector["text"]) == vector["ids"]
        answer = model.answer(vector["text"])
        assert (answer.text, answer.known) == (vector["answer"], vector["known"]), vector["label"]
        assert abs(answer.confidence - vector["confidence"]) <= TOLERANCE
    assert errors == 5  # only punctuation, only emoji, only format characters (no words); only spaces, empty


def test_hard_strings_tokenize_as_the_spec_says(vectors):
    by_label = {v["label"]: v for v in vectors["vectors"]}
    assert by_label["sharp s, small and capital"]["tokens"] == ["strasse"] * 3
    assert by_label["Greek final sigma"]["tokens"] == ["οδυσσευσ"] * 3
    assert by_label["Turkish dotted and dotless i"]["tokens"] == ["istanbul", "istanbul", "ıstanbul"]
    assert by_label["full-width letters"]["tokens"] == ["what", "is", "the", "capital", "of", "france"]
    assert by_label["assigned after Unicode 14 (a separator in the tables)"]["tokens"] == ["what", "is", "or"]
    assert by_label["empty"]["error"] == by_label["only spaces"]["error"] == "question is empty"
    assert by_label["only emoji"]["error"] == by_label["only format characters"]["error"] == "question has no words"
    assert by_label["lone surrogates (one code point each, separators)"]["tokens"] == [
        "what", "is", "the", "capital", "of", "peru"]
    assert by_label["joiners: parts judged as split"]["tokens"] == ["a", "x", "it", "s", "s"]
    assert by_label["digits and letters in stem candidates"]["tokens"] == ["12ers", "1990s", "abc123ing", "paint"]
