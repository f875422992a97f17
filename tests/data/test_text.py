import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnqa.data.text import PAD_ID, UNK_ID, Tokenizer, Vocabulary, _unicode_words, stem
from rnnqa.errors import ConfigError


def test_notebook_tokenizer_matches_the_reference_rule():
    tok = Tokenizer("notebook")
    assert tok("Who wrote 'To Kill a Mockingbird'?") == ["who", "wrote", "to", "kill", "a", "mockingbird"]
    assert tok("  What's   the\tcapital ") == ["whats", "the", "capital"]
    assert tok("Paris, France?") == ["paris,", "france"]  # the notebook keeps commas


def test_words_tokenizer_normalises_unicode_punctuation_and_possessives():
    tok = Tokenizer("words")
    assert tok("Earth’s  biggest ocean, please?!") == ["earths", "biggest", "ocean", "please"]
    assert tok("ＣＡＰＩＴＡＬ of Straße") == ["capital", "of", "strasse"]
    assert tok("New-York_city") == ["new", "york", "city"]


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_words_ascii_fast_path_gives_the_unicode_rules_tokens(text):
    assert text.isascii()
    assert Tokenizer("words")(text) == _unicode_words(text)
    assert Tokenizer("english")(text) == _unicode_words(text, english=True)


@given(st.lists(st.sampled_from(["what", "WHAT", "'s", "'S", "s", "'", "`", " ", "earth", "’s", "é", "?"]),
                max_size=12).map("".join))
def test_english_fast_path_on_apostrophe_heavy_text(text):
    assert Tokenizer("english")(text) == _unicode_words(text, english=True)


def test_english_tokenizer_drops_possessive_s():
    tok = Tokenizer("english")
    assert tok("France's capital city is what?") == ["france", "capital", "city", "is", "what"]
    assert tok("WHAT'S the Earth’s biggest ocean") == ["what", "the", "earth", "biggest", "ocean"]
    assert tok("the dogs' bones, 's and it's") == ["the", "dogs", "bones", "s", "and", "it"]
    assert tok("don't say O'Neill") == ["dont", "say", "oneill"]  # only 's is special
    assert Tokenizer("words")("France's") == ["frances"]  # the older rule, kept for its bundles


def test_stem_tokenizer_maps_word_forms_onto_one():
    tok = Tokenizer("stem")
    assert tok("Who was the painter of Starry Night?") == ["who", "was", "the", "paint", "of", "starry", "night"]
    assert tok("Who painted it?")[1] == tok("Which painting is it?")[1] == tok("the painters")[1] == "paint"
    assert tok("Who was the inventor?")[3] == tok("Who invented it?")[1] == "invent"
    assert tok("countries planets glass") == ["country", "planet", "glass"]
    # short words, and suffixes that would leave fewer than 4 letters, stay
    assert tok("What is the water speed? red bed is sing") == ["what", "is", "the", "water", "speed", "red", "bed",
                                                             "is", "sing"]
    assert tok("France's 1990s") == ["france", "1990s"]  # the english rule first; letters only


@given(st.text(max_size=40))
def test_stem_tokenizer_is_the_english_tokens_stemmed(text):
    assert Tokenizer("stem")(text) == [stem(t) for t in _unicode_words(text, english=True)]


def test_words_fast_path_edge_characters():
    tok = Tokenizer("words")
    text = "it's `x` a_b\x1fc 3.14 don\u2019t"  # the last word is not ASCII: the general path
    assert tok(text) == ["its", "x", "a", "b", "c", "3", "14", "dont"] == _unicode_words(text)
    assert tok("a_b\x1fc") == ["a", "b", "c"] == _unicode_words("a_b\x1fc")


def test_tokenizer_rejects_non_strings_and_unknown_kinds():
    with pytest.raises(TypeError):
        Tokenizer()(42)
    with pytest.raises(ConfigError, match="unknown tokenizer"):
        Tokenizer("bpe")


def test_vocabulary_reserves_pad_and_unk_and_keeps_answers_verbatim():
    vocab = Vocabulary.build(["What is A?", "what is b"], ["299,792,458m/s", "Harper-Lee"])
    assert vocab.tokens[:2] == ("<PAD>", "<UNK>") and (vocab.pad_id, vocab.unk_id) == (PAD_ID, UNK_ID)
    assert vocab.tokens[2:] == ("what", "is", "a", "b")
    assert vocab.answers == ("299,792,458m/s", "Harper-Lee")
    assert vocab.encode("what is zebra?") == [2, 3, UNK_ID]
    assert vocab.encode("what is a b a", max_len=2) == [2, 3]


@pytest.mark.parametrize("kind", ["notebook", "words", "english", "stem"])
def test_vocabulary_json_round_trip_reproduces_ids(kind):
    vocab = Vocabulary.build(["Who's there?", "Ünïcode façade!"], ["me", "x"], Tokenizer(kind))
    again = Vocabulary.from_json(json.loads(json.dumps(vocab.to_json())))
    assert again == vocab and again.tokenizer.kind == kind
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
