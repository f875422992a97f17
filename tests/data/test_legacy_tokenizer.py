"""The version-1 tokenizers: runs and bundles made before the declared tokenizer answer as they did."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnqa.data.legacy_tokenizer import LegacyTokenizer, stem, unicode_words
from rnnqa.data.text import tokenizer_from_json
from rnnqa.errors import ConfigError


def test_notebook_tokenizer_matches_the_reference_rule():
    tok = LegacyTokenizer("notebook")
    assert tok("Who wrote 'To Kill a Mockingbird'?") == ["who", "wrote", "to", "kill", "a", "mockingbird"]
    assert tok("  What's   the\tcapital ") == ["whats", "the", "capital"]
    assert tok("Paris, France?") == ["paris,", "france"]  # the notebook keeps commas


def test_words_tokenizer_normalises_unicode_punctuation_and_possessives():
    tok = LegacyTokenizer("words")
    assert tok("Earth’s  biggest ocean, please?!") == ["earths", "biggest", "ocean", "please"]
    assert tok("ＣＡＰＩＴＡＬ of Straße") == ["capital", "of", "strasse"]
    assert tok("New-York_city") == ["new", "york", "city"]


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_words_ascii_fast_path_gives_the_unicode_rules_tokens(text):
    assert text.isascii()
    assert LegacyTokenizer("words")(text) == unicode_words(text)
    assert LegacyTokenizer("english")(text) == unicode_words(text, english=True)


@given(st.lists(st.sampled_from(["what", "WHAT", "'s", "'S", "s", "'", "`", " ", "earth", "’s", "é", "?"]),
                max_size=12).map("".join))
def test_english_fast_path_on_apostrophe_heavy_text(text):
    assert LegacyTokenizer("english")(text) == unicode_words(text, english=True)


def test_english_tokenizer_drops_possessive_s():
    tok = LegacyTokenizer("english")
    assert tok("France's capital city is what?") == ["france", "capital", "city", "is", "what"]
    assert tok("WHAT'S the Earth’s biggest ocean") == ["what", "the", "earth", "biggest", "ocean"]
    assert tok("the dogs' bones, 's and it's") == ["the", "dogs", "bones", "s", "and", "it"]
    assert tok("don't say O'Neill") == ["dont", "say", "oneill"]  # only 's is special
    assert LegacyTokenizer("words")("France's") == ["frances"]  # the older rule, kept for its bundles


def test_stem_tokenizer_maps_word_forms_onto_one():
    tok = LegacyTokenizer("stem")
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
    assert LegacyTokenizer("stem")(text) == [stem(t) for t in unicode_words(text, english=True)]


def test_words_fast_path_edge_characters():
    tok = LegacyTokenizer("words")
    text = "it's `x` a_b\x1fc 3.14 don\u2019t"  # the last word is not ASCII: the general path
    assert tok(text) == ["its", "x", "a", "b", "c", "3", "14", "dont"] == unicode_words(text)
    assert tok("a_b\x1fc") == ["a", "b", "c"] == unicode_words("a_b\x1fc")


def test_tokenizer_rejects_non_strings_and_unknown_kinds():
    with pytest.raises(TypeError):
        LegacyTokenizer()(42)
    with pytest.raises(ConfigError, match="unknown tokenizer"):
        LegacyTokenizer("bpe")


@pytest.mark.parametrize("kind", ["notebook", "words", "english", "stem"])
def test_a_spec_without_version_is_the_legacy_rule(kind):
    tokenizer = tokenizer_from_json({"kind": kind})
    assert tokenizer == LegacyTokenizer(kind) and tokenizer.version == 1
    assert tokenizer.to_json() == {"kind": kind}
