import json

import pytest

from rnnqa.data.legacy_tokenizer import LegacyTokenizer
from rnnqa.data.text import PAD_ID, UNK_ID, Vocabulary, make_tokenizer
from rnnqa.errors import ConfigError


def test_vocabulary_reserves_pad_and_unk_and_keeps_answers_verbatim():
    vocab = Vocabulary.build(["What is A?", "what is b"], ["299,792,458m/s", "Harper-Lee"])
    assert vocab.tokens[:2] == ("<PAD>", "<UNK>") and (vocab.pad_id, vocab.unk_id) == (PAD_ID, UNK_ID)
    assert vocab.tokens[2:] == ("what", "is", "a", "b")
    assert vocab.answers == ("299,792,458m/s", "Harper-Lee")
    assert vocab.encode("what is zebra?") == [2, 3, UNK_ID]
    assert vocab.encode("what is a b a", max_len=2) == [2, 3]


@pytest.mark.parametrize("kind", ["notebook", "words", "english", "stem"])
@pytest.mark.parametrize("make", [make_tokenizer, LegacyTokenizer])
def test_vocabulary_json_round_trip_reproduces_ids(kind, make):
    vocab = Vocabulary.build(["Who's there?", "Ünïcode façade!"], ["me", "x"], make(kind))
    again = Vocabulary.from_json(json.loads(json.dumps(vocab.to_json())))
    assert again == vocab and again.tokenizer.kind == kind and again.tokenizer.version == make(kind).version
    for q in ["who's there", "ÜNÏCODE façade", "nothing known"]:
        assert again.encode(q) == vocab.encode(q)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("tokens"), "lacks field"),
        (lambda d: d.update(pad_id=5), "pad_id"),
        (lambda d: d.update(answers=[1, 2]), "lists of strings"),
        (lambda d: d.update(tokens=["a", "b"]), "must start with"),
        (lambda d: d.update(tokenizer={"kind": "nope"}), "unknown tokenizer"),
        (lambda d: d.update(tokenizer={"kind": "stem", "version": 4}), "version 4 is not supported"),
        (lambda d: d["tokenizer"].update(aliases={"bigg": "a"}), "aliases. needs version 3"),
        (lambda d: d["tokenizer"].update(version=3, aliases={"bigg": "zzz"}), "alias .bigg. → .zzz."),
        (lambda d: d["tokenizer"].update(version=3, aliases={"a": "b"}), "maps a word outside the vocabulary"),
        (lambda d: d["tokenizer"].update(version=3, aliases={"x  y": "b"}), "single spaces"),
        (lambda d: d["tokenizer"].update(letters=[[5, 1]]), "letters must be sorted"),
        (lambda d: d["tokenizer"].pop("map"), "'map' must be a dict"),
    ],
)
def test_vocabulary_from_bad_json_is_a_config_error(mutate, message):
    data = Vocabulary.build(["a b"], ["x"]).to_json()
    mutate(data)
    with pytest.raises(ConfigError, match=message):
        Vocabulary.from_json(data)


def test_pad_rows_right_pads_to_the_longest():
    from rnnqa.data.padding import pad_rows

    ids, lengths = pad_rows([[5, 6, 7], [8], [9, 10]])
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0], [9, 10, 0]] and lengths.tolist() == [3, 1, 2]
    assert ids.dtype == lengths.dtype == "int64"
