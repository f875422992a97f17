"""tokenizer.json: Hugging Face `tokenizers` gives the declared tokenizer's ids, exactly, on any valid text."""

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnqa.data.table import default_dataset_path, load_qa_csv
from rnnqa.data.text import TOKENIZERS, Vocabulary, make_tokenizer
from rnnqa.errors import ExportError
from rnnqa.export.hf_tokenizer import hf_tokenizer_files

tokenizers = pytest.importorskip("tokenizers")
MAX_LEN = 32
PAIRS = load_qa_csv(default_dataset_path())


def hf_and_vocab(kind: str):
    vocab = Vocabulary.build(PAIRS.questions, PAIRS.answers, make_tokenizer(kind))
    files = hf_tokenizer_files(vocab, MAX_LEN)
    return tokenizers.Tokenizer.from_str(json.dumps(files["tokenizer.json"])), vocab


HF = {kind: hf_and_vocab(kind) for kind in TOKENIZERS}
WORDS = sorted({w for q in PAIRS.questions for w in q.split()})
PIECES = ["s", "'s", "’s", "s'", "''", "'", "`", "ʼ", "ies", "ing", "ers", "ed", "ss", "er", "y", " ", "  ", "\t", "?",
          "-", "_", "ß", "ẞ", "Σ", "ς", "İ", "ı", "é", "e\u0301", "ﬁ", "²", "Ⅻ", "Ｆ", "\u200b", "\u00ad", "\ufeff", "👍🏽",
          "🇫🇷", "東京", "Москва", "\U00031350", "\x00", "\n", "%", "#", "\\", "[", "]", "^", "$1", "0", "9"]
# Text as people write it (training words, suffixes, joiners, Unicode traps) and arbitrary text; no lone
# surrogates, which tokenizers refuses (no Rust string holds one).
VALID = st.characters(blacklist_categories=("Cs",))
TEXT = st.one_of(st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from(PIECES), st.text(VALID, max_size=3)),
                          max_size=12).map("".join),
                 st.text(VALID, max_size=40))


def hf_ids(kind: str, text: str) -> list[int]:
    return HF[kind][0].encode(text, add_special_tokens=False).ids


@pytest.mark.parametrize("kind", TOKENIZERS)
@settings(max_examples=300, deadline=None)
@given(text=TEXT)
def test_ids_equal_the_declared_tokenizer_on_any_valid_text(kind, text):
    assert hf_ids(kind, text) == HF[kind][1].encode(text, MAX_LEN)


@pytest.mark.parametrize("kind", TOKENIZERS)
def test_every_training_question_and_reworded_form(kind):
    vocab = HF[kind][1]
    for question in PAIRS.questions:
        for text in (question, question.upper(), question.replace("?", "s?"), f"{question} painters' countries"):
            assert hf_ids(kind, text) == vocab.encode(text, MAX_LEN), text


def test_the_bundle_carries_it_hashed_and_it_matches_every_conformance_vector(make_bundle):
    bundle = make_bundle("gru")
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert {"tokenizer.json", "tokenizer_config.json"} <= set(manifest["files"])
    config = json.loads((bundle / "tokenizer_config.json").read_text())
    assert config["unk_token"] == "<UNK>" and config["model_max_length"] == manifest["max_len"]
    hf = tokenizers.Tokenizer.from_file(str(bundle / "tokenizer.json"))
    vectors = json.loads((bundle / "conformance.json").read_text(encoding="utf-8"))["vectors"]
    surrogates = [v for v in vectors if any(0xD800 <= ord(c) <= 0xDFFF for c in v["text"])]
    assert len(surrogates) == 1
    # the WordNet aliases (step 6) are the one step it does not express, and it says so
    vocab = Vocabulary.from_json(json.loads((bundle / "vocab.json").read_text()))
    assert vocab.tokenizer.aliases and str(len(vocab.tokenizer.aliases)) in config["rnnqa_not_expressed"]
    plain = dataclasses.replace(vocab, tokenizer=vocab.tokenizer.without_aliases())
    aliased = 0
    for vector in vectors:
        if vector in surrogates:
            with pytest.raises(TypeError):  # documented: tokenizers takes valid Unicode only
                hf.encode(vector["text"], add_special_tokens=False)
            continue
        ids = hf.encode(vector["text"], add_special_tokens=False).ids
        assert ids == plain.encode(vector["text"], manifest["max_len"]), vector["label"]
        aliased += ids != vector["ids"]
    assert aliased  # the alias vectors are among them, and only they differ


def test_a_version_1_tokenizer_has_none():
    from rnnqa.data.legacy_tokenizer import LegacyTokenizer

    with pytest.raises(ExportError, match="declared"):
        hf_tokenizer_files(Vocabulary.build(["a b"], ["x"], LegacyTokenizer("stem")), MAX_LEN)
