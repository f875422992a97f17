"""Conformance vectors: what any runtime must reproduce from a bundle, written into ``conformance.json``.

For every training question and a fixed list of hard strings (those on which engines and Unicode
versions disagree): the text, its tokens, the ids the graph sees (cut to ``max_len``), and the answer,
confidence and "known" that onnxruntime gives for that one question — or the error a runtime must
raise. A port (docs/tokenizer.md) checks itself against this file; the JavaScript tests do.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnnqa.bundle_format import ANSWER_INDEX, CONFIDENCE, INPUT_NAMES
from rnnqa.data.text import Vocabulary
from rnnqa.runtime.session import make_session

TOLERANCE = 1e-5  # on confidence: the same graph on another onnxruntime build may round differently
# (label, text): each names what it tests. Questions in the style of the training data, so most reach words
# a trivia vocabulary knows and the answers say something.
HARD_STRINGS: tuple[tuple[str, str], ...] = (
    ("accents, precomposed", "Whó páinted the Mona Lisá?"),
    ("combining marks", "Who pai\u0301nted the Mona Li\u0308sa?"),
    ("full-width letters", "Ｗｈａｔ ｉｓ ｔｈｅ ｃａｐｉｔａｌ ｏｆ Ｆｒａｎｃｅ？"),
    ("ligatures", "What is the capital of ﬁnland? ﬂow ﬀ Ĳ"),
    ("sharp s, small and capital", "Straße STRAẞE strasse"),
    ("Greek final sigma", "ΟΔΥΣΣΕΥΣ Ὀδυσσεύς οδυσσευς"),
    ("Turkish dotted and dotless i", "İstanbul ISTANBUL ıstanbul"),
    ("curly and straight apostrophes", "What’s France's capital? Earth‘s ocean, rock 'n' roll, don`t, Kʼiche"),
    ("quotes", "Who wrote «Hamlet» and “Romeo and Juliet” or \"Macbeth\"?"),
    ("hyphens and dashes", "Who is well-known — the self‐made man – in Coca‑Cola?"),
    ("digits", "How many days are in 1 year? 365 or 366 ３６５ ٣٦٥"),
    ("superscripts and subscripts", "What is H₂O? x² m³ ¹⁰"),
    ("Roman numerals", "Who was Louis Ⅻ or Henry ⅷ?"),
    ("fractions", "What is ½ of 4? ¾"),
    ("emoji", "What is the capital of France 🇫🇷? 👍🏽 ❤️ 1️⃣ 👨‍👩‍👧"),
    ("zero-width and format characters", "What is the cap\u200bital of Fr\u200dance\u00ad?\ufeff\u2060"),
    ("right-to-left text", "What is مرحبا in עִבְרִית?\u200f"),
    ("CJK", "What is 東京 or 北京 タワー 한국어?"),
    ("Cyrillic", "What is the capital of Россия? МОСКВА Ёлка"),
    ("Cherokee", "Ꮳ ꮳ ᏣᎳᎩ"),
    ("assigned after Unicode 14 (a separator in the tables)", "What is 𱍐 or 𞀰?"),
    ("control characters", "What is\tthe\ncapital\x00of\x1fPeru?"),
    ("lone surrogates (one code point each, separators)", "What is\ud800the capital\udfffof Peru?"),
    ("joiners: parts judged as split", "a's's x'S it's' 's ''s"),
    ("digits and letters in stem candidates", "12ers 1990s abc123ing painters'"),
    ("only format characters", "\u200b\u00ad\ufeff"),
    ("only punctuation", "?!… ¿¡"),
    ("only emoji", "🇫🇷👍🏽"),
    ("only spaces", " \t\u3000\n"),
    ("empty", ""),
)


def conformance(vocab: Vocabulary, max_len: int, threshold: float, onnx_path: Path,
                questions: Sequence[str]) -> dict:
    """The content of ``conformance.json`` for a bundle whose graph is at ``onnx_path``."""
    session = make_session(onnx_path)
    texts = [("training question", q) for q in questions]
    texts += list(HARD_STRINGS)
    texts += alias_strings(vocab.tokenizer)
    if questions:
        long = " ".join([questions[0]] * (max_len // max(1, len(vocab.tokenizer(questions[0]))) + 2))
        texts.append((f"longer than max_len ({max_len} ids)", long))
    vectors = [_vector(vocab, max_len, threshold, session, label, text) for label, text in texts]
    return {
        "about": "text → tokens → ids (cut to max_len) → answer; see docs/tokenizer.md",
        "max_len": max_len,
        "threshold": threshold,
        "tolerance": TOLERANCE,
        "vectors": vectors,
    }


ALIAS_WORDS, ALIAS_PHRASES = 24, 12  # how many of a declaration's aliases get a vector (the first, sorted)


def alias_strings(tokenizer) -> list[tuple[str, str]]:
    """Texts for step 6 (aliases), from the declaration's own: words and phrases, a phrase beside the
    alias of its first word (longest match first), two phrases in a row. Keys whose text does not
    tokenize back to themselves without aliases are skipped."""
    aliases = getattr(tokenizer, "aliases", {})
    if not aliases:
        return []
    plain = tokenizer.without_aliases()
    keys = [k for k in sorted(aliases) if plain(k) == k.split(" ")]
    words = [k for k in keys if " " not in k]
    phrases = [k for k in keys if " " in k]
    texts = [("alias of a word", f"What is the {k}?") for k in words[:ALIAS_WORDS]]
    texts += [("alias of a phrase", f"Who did {k} it?") for k in phrases[:ALIAS_PHRASES]]
    overlapping = [p for p in phrases if p.split(" ")[0] in aliases]
    if overlapping:
        texts.append(("a phrase whose first word is an alias too: the longest match wins",
                      f"{overlapping[0]} and {overlapping[0].split(' ')[0]}"))
    if len(phrases) > 1:
        texts.append(("two phrases in a row, then a word", f"{phrases[0]} {phrases[-1]} {(words or ['x'])[0]}"))
    return texts


def _vector(vocab: Vocabulary, max_len: int, threshold: float, session, label: str, text: str) -> dict:
    vector = {"label": label, "text": text, "tokens": vocab.tokenizer(text), "ids": vocab.encode(text, max_len)}
    try:
        ids = vocab.encode_question(text, max_len)
    except ValueError as exc:
        return {**vector, "error": str(exc)}
    feeds = {INPUT_NAMES[0]: np.array([ids], dtype=np.int64), INPUT_NAMES[1]: np.array([len(ids)], dtype=np.int64)}
    index, confidence = session.run([ANSWER_INDEX, CONFIDENCE], feeds)
    confidence = float(confidence[0])
    return {**vector, "answer": vocab.answers[int(index[0])], "confidence": confidence,
            "known": confidence >= threshold}
