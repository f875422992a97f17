"""From a vocabulary and the lexicon: the aliases a tokenizer declaration carries, and the gate's synonym classes.

**Aliases** map a word (or a phrasal verb, as tokens joined by one space) that the training questions
never had onto the vocabulary token it is a synonym or an inflection of: "biggest" → the token of
"largest", "author" → "wrote", "came up with" → whatever WordNet relates it to. Only content words take
part (not :data:`FUNCTION_WORDS`, nor tokens with a digit or under three letters). A key that would
alias two tokens goes to the closer relation, then to the one inflected alike, then to the earlier token.

**Synonym classes** join vocabulary tokens that are related (two taught questions may use "author" and
"wrote"): the substitution gate compares classes, so a swap for a synonym is no swap.

Relations are :meth:`rnnqa.lexicon.table.Lexicon.relation`'s: first senses, a shared synset or one
similar-to or derivational link, after reducing inflections. Pure Python.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from rnnqa.lexicon.table import LINKED, POS, SHARED, Lexicon, load_lexicon

SAME = 0  # an inflection of the same lemma: "written" for "wrote"
MAX_PHRASE = 4  # most tokens of an alias key
# Synonym classes need a mutual shared synset (or one lemma): one link is too loose for the gate, where a
# false pair opens it to a near miss (derivation joins "current" and "currency").
CLASS_STRENGTH = SHARED
# English function words: never aliased nor alias targets ("in" is also WordNet's indium, "who" the WHO).
FUNCTION_WORDS = frozenset("""
a about above across after again against all almost along also although always am among an and another any
anyone anything are around as at be became because become been before being below between both but by can
cannot could did do does doing done down during each either else ever every few for from get gets got had
has have having he her here hers herself him himself his how however i if in into is it its itself just
least less like made make makes many may me might more most much must my myself near neither never no nor
not now of off often on once one only onto or other others our ours out over own per perhaps same shall she
should since so some such than that the their theirs them themselves then there these they this those
though through thus to too toward towards under until up upon us very was we well were what whatever when
where whether which while who whom whose why will with within without would yet you your yours
""".split())
_SUFFIXES = ("iest", "est", "ier", "er", "ing", "ied", "ed", "ies", "es", "s")


@dataclass(frozen=True)
class LexiconTables:
    aliases: dict[str, str]  # key (a token, or tokens joined by " ") → vocabulary token
    classes: dict[int, int]  # token id → the smallest id of its synonym class (only tokens in a class of ≥ 2)


def lexicon_tables(vocab, questions: Iterable[str], lexicon: Lexicon | None = None) -> LexiconTables:
    """:func:`build_tables` for a :class:`~rnnqa.data.text.Vocabulary` built from ``questions`` with a
    declared tokenizer (aliases cannot be written into a version-1 rule: then no tables).

    Raises:
        LexiconError: the shipped lexicon is missing or corrupted.
    """
    tokenizer = vocab.tokenizer
    if not hasattr(tokenizer, "with_aliases"):
        return LexiconTables({}, {})
    plain = tokenizer.without_aliases()
    lexicon = lexicon or load_lexicon()
    return build_tables(lexicon, vocab.tokens, surface_words(questions, plain.words, plain.stem_word), plain)


def build_tables(lexicon: Lexicon, tokens: tuple[str, ...], surface: dict[str, set[str]], tokenize) -> LexiconTables:
    """The aliases and synonym classes for vocabulary ``tokens``.

    Args:
        surface: each vocabulary token's surface words in the training questions (before stemming).
        tokenize: text → tokens, the vocabulary's tokenizer without aliases.
    """
    index = {t: i for i, t in enumerate(tokens)}
    reverse = _Reverse(lexicon)
    best: dict[str, tuple] = {}
    related_lemmas: dict[str, dict[str, int]] = {}
    for token in tokens[2:]:
        if not _content(token):
            continue
        lemmas: dict[str, int] = {}
        for word in sorted(surface.get(token, ())):
            if not _content(word):
                continue
            related = _related(lexicon, reverse, word)
            for lemma, strength in related.items():
                lemmas[lemma] = min(strength, lemmas.get(lemma, strength))
            for lemma, strength in related.items():
                if lemma in FUNCTION_WORDS:
                    continue
                for pos in POS:
                    for form in lexicon.forms(lemma, pos):
                        key = tokenize(form)
                        if not key or len(key) > MAX_PHRASE or not all(map(_content, key)) or (
                                len(key) > 1 and pos != "v"):  # phrases: phrasal verbs ("find out"), not names
                            continue
                        name = " ".join(key)
                        if (len(key) == 1 and name in index) or name == token:
                            continue
                        score = (strength, _suffix(form) != _suffix(word), index[token])
                        if name not in best or score < best[name][0]:
                            best[name] = (score, token)
        related_lemmas[token] = lemmas
    aliases = {name: token for name, (_, token) in sorted(best.items())}
    return LexiconTables(aliases, _classes(lexicon, tokens, surface, related_lemmas))


def _classes(lexicon, tokens, surface, related_lemmas) -> dict[int, int]:
    """Groups of vocabulary tokens every two of which are related (no chains: "big" ~ "large" and
    "big" ~ "adult" do not make "large" ~ "adult"), closest pairs first."""
    index = {t: i for i, t in enumerate(tokens)}
    bases = {t: {b for w in surface.get(t, ()) for b in lexicon.all_bases(w)} for t in related_lemmas}

    def strength(a: str, b: str) -> int | None:  # mutual: each token's lemmas reach the other's
        ab = min((related_lemmas[a][x] for x in bases[b] if x in related_lemmas[a]), default=None)
        ba = min((related_lemmas[b][x] for x in bases[a] if x in related_lemmas[b]), default=None)
        return None if ab is None or ba is None else max(ab, ba)

    pairs = sorted((s, index[a], index[b]) for a in related_lemmas for b in related_lemmas
                   if index[a] < index[b] and (s := strength(a, b)) is not None and s <= CLASS_STRENGTH)
    group: dict[int, int] = {}
    members: dict[int, set[int]] = {}
    related = {(a, b) for _, a, b in pairs}
    for _, a, b in pairs:
        ga, gb = group.get(a, a), group.get(b, b)
        if ga == gb:
            continue
        joined = members.get(ga, {a}) | members.get(gb, {b})
        if all((min(x, y), max(x, y)) in related for x in joined for y in joined if x != y):
            root = min(joined)
            members.pop(ga, None), members.pop(gb, None)
            members[root] = joined
            group.update(dict.fromkeys(joined, root))
    return {i: root for root, ids in members.items() for i in ids}


def _related(lexicon: Lexicon, reverse: _Reverse, word: str) -> dict[str, int]:
    """Every lemma related to ``word``: its own (SAME), those its first senses reach, and those whose
    first senses reach one of its lemmas."""
    out = {b: SAME for b in lexicon.all_bases(word)}
    for lemma, strength in lexicon.senses(word).items():
        out.setdefault(lemma, strength)
    for base in list(out):
        if out[base] == SAME:
            for lemma, strength in reverse.reaching(base).items():
                out[lemma] = min(strength, out.get(lemma, strength))
    return out


class _Reverse:
    """Which lemmas' first senses reach a word (the inverse of :meth:`Lexicon.senses`)."""

    def __init__(self, lexicon: Lexicon):
        self._lexicon = lexicon
        heads: dict[int, list[int]] = {}
        for table in lexicon.first.values():
            for word, synset in table.items():
                heads.setdefault(synset, []).append(word)
        self._heads = heads
        holders: dict[int, list[int]] = {}
        for s, words in enumerate(lexicon.synsets):
            for w in words:
                holders.setdefault(w, []).append(s)
        self._holders = holders
        self._similar_of: dict[int, list[int]] = {}
        for s, linked in lexicon.similar.items():
            for t in linked:
                self._similar_of.setdefault(t, []).append(s)
        self._derived_of: dict[int, list[int]] = {}
        for s, words in lexicon.derived.items():
            for w in words:
                self._derived_of.setdefault(w, []).append(s)

    @functools.lru_cache(maxsize=1 << 14)
    def reaching(self, lemma: str) -> dict[str, int]:
        lexicon = self._lexicon
        word = lexicon._word_id.get(lemma)
        if word is None:
            return {}
        out: dict[str, int] = {}
        for s in self._holders.get(word, ()):
            for w in self._heads.get(s, ()):
                out[lexicon.words[w]] = SHARED
            for head in self._similar_of.get(s, ()):
                for w in self._heads.get(head, ()):
                    out.setdefault(lexicon.words[w], LINKED)
        for head in self._derived_of.get(word, ()):
            for w in self._heads.get(head, ()):
                out.setdefault(lexicon.words[w], LINKED)
        return out


def _content(word: str) -> bool:
    return len(word) >= 3 and word not in FUNCTION_WORDS and not any(c.isdigit() for c in word)


def _suffix(word: str) -> str:
    return next((s for s in _SUFFIXES if word.endswith(s)), "")


# A quoted title ("Who painted 'The Last Supper'?"): a quote, a capital letter, up to the next quote.
_TITLE = re.compile(r"""['"‘“]\s*[A-Z][^'"’”]*['"’”]""")


def surface_words(questions: Iterable[str], words, stem) -> dict[str, set[str]]:
    """Each token's surface words over ``questions``: ``words`` gives a text's words before stemming,
    ``stem`` one word's token. Words inside quoted titles are left out, so a token the questions only
    have in a title is no alias target: "highest" is not read as the "last" of 'The Last Supper'."""
    out: dict[str, set[str]] = {}
    for question in questions:
        for word in words(_TITLE.sub(" ", question)):
            out.setdefault(stem(word), set()).add(word)
    return out
