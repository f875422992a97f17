"""The lexicon rnnqa ships: which English words are synonyms, from a compact table derived from WordNet.

Read at training only (:mod:`rnnqa.lexicon.aliases`); the runtimes never read it: what a bundle needs
of it travels as data in the tokenizer declaration (``aliases``) and in the gate's tables. The table is
made by ``python -m rnnqa.lexicon.build`` (its docstring says from which files); its licence notice is
``WORDNET-LICENSE`` beside it.

Two words are **related** (:meth:`Lexicon.relation`) when, after reducing inflections (WordNet's
morphy: the exception lists, then the detachment rules), one word's first sense — per part of speech,
the most frequent one the index lists — holds the other (1: a shared synset, "biggest"/"largest") or is
one link away from a synset that holds it (2: a similar-to link between adjectives, or a derivational
link from one of its words: "author" → writer → "write"). Only first senses count: every sense of
"largest" would bring in "gravid".
"""

from __future__ import annotations

import functools
import gzip
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

from rnnqa.errors import ConfigError

FORMAT = "rnnqa-lexicon-1"
TABLE_FILE = Path(__file__).with_name("wordnet.json.gz")
POS = ("n", "v", "a", "r")
# WordNet's detachment rules (morphy), per part of speech: suffix → replacement.
DETACH = {
    "n": (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"),
          ("ies", "y")),
    "v": (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")),
    "a": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "r": (),
}
SHARED, LINKED = 1, 2  # the two strengths of a relation


class LexiconError(ConfigError):
    """The shipped lexicon is missing or unreadable (a broken install): reinstall rnnqa."""


@dataclass(frozen=True)
class Lexicon:
    source: str
    words: tuple[str, ...]
    synsets: tuple[tuple[int, ...], ...]
    first: dict[str, dict[int, int]]  # pos → word id → synset id of its first sense
    similar: dict[int, tuple[int, ...]]  # synset id → synsets one similar-to link away
    derived: dict[int, tuple[int, ...]]  # synset id → words one derivational link away
    exceptions: dict[str, dict[str, tuple[str, ...]]]  # pos → inflected form → base forms

    @functools.cached_property
    def _word_id(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    @functools.cached_property
    def _inflections(self) -> dict[str, dict[str, tuple[str, ...]]]:
        out: dict[str, dict[str, list[str]]] = {pos: {} for pos in POS}
        for pos, table in self.exceptions.items():
            for form, bases in table.items():
                for base in bases:
                    out[pos].setdefault(base, []).append(form)
        return {pos: {b: tuple(sorted(f)) for b, f in table.items()} for pos, table in out.items()}

    def bases(self, word: str, pos: str) -> tuple[str, ...]:
        """WordNet's morphy: the lemmas of part of speech ``pos`` that ``word`` (lower case) is a form of."""
        ids, first = self._word_id, self.first[pos]
        found = [*self.exceptions[pos].get(word, ()), word]
        found += [word[: len(word) - len(s)] + r for s, r in DETACH[pos] if word.endswith(s) and len(word) > len(s)]
        head, _, rest = word.partition(" ")
        if rest and pos == "v":  # a phrasal verb inflects its first word: "came up" → "come up"
            found += [f"{b} {rest}" for b in (*self.exceptions[pos].get(head, ()), *(
                head[: len(head) - len(s)] + r for s, r in DETACH[pos] if head.endswith(s) and len(head) > len(s)))]
        return tuple(b for b in dict.fromkeys(found) if ids.get(b) in first)

    def forms(self, lemma: str, pos: str) -> tuple[str, ...]:
        """The inflected forms of ``lemma`` that :meth:`bases` reduces to it: the lemma, its exception
        forms, and the regular ones of English spelling (of a phrase's first word: "came up")."""
        head, _, rest = lemma.partition(" ")
        if rest and pos != "v":  # only phrasal verbs inflect (their first word); "al dente" does not
            return (lemma,)
        heads = [*_regular(head, pos), *self._inflections[pos].get(head, ())] if pos != "r" else []
        candidates = [lemma, *self._inflections[pos].get(lemma, ()), *(w + (" " + rest if rest else "") for w in heads)]
        return tuple(f for f in dict.fromkeys(candidates) if lemma in self.bases(f, pos))

    def senses(self, word: str) -> dict[str, int]:
        """Every word that a first sense of ``word`` reaches, with its strength (SHARED or LINKED)."""
        out: dict[str, int] = {}
        for pos in POS:
            for base in self.bases(word, pos):
                synset = self.first[pos][self._word_id[base]]
                for w in self.synsets[synset]:
                    out[self.words[w]] = SHARED
                for linked in self.similar.get(synset, ()):
                    for w in self.synsets[linked]:
                        out.setdefault(self.words[w], LINKED)
                for w in self.derived.get(synset, ()):
                    out.setdefault(self.words[w], LINKED)
        return out

    def all_bases(self, word: str) -> set[str]:
        return {b for pos in POS for b in self.bases(word, pos)}

    def relation(self, a: str, b: str) -> int | None:
        """SHARED, LINKED or None (unrelated): the closer of ``a``'s first senses reaching ``b`` and ``b``'s
        reaching ``a`` (see the module's docstring)."""
        strengths = [s for x, y in ((a, b), (b, a)) for w, s in self.senses(x).items() if w in self.all_bases(y)]
        return min(strengths, default=None)


def _regular(word: str, pos: str) -> list[str]:
    """The regular inflections of ``word``: plural (n); -s, -ed, -ing (v); -er, -est (a)."""
    sibilant = word.endswith(("s", "x", "z", "ch", "sh"))
    consonant_y = len(word) > 1 and word.endswith("y") and word[-2] not in "aeiou"
    stem = word[:-1] if consonant_y or word.endswith("e") else word
    if pos == "n":
        return [word + "es" if sibilant else stem + "ies" if consonant_y else word + "s"]
    if pos == "v":
        third = word + "es" if sibilant else stem + "ies" if consonant_y else word + "s"
        return [third, stem + ("ied" if consonant_y else "ed"), (word if consonant_y else stem) + "ing"]
    return [stem + ("ier" if consonant_y else "er"), stem + ("iest" if consonant_y else "est")]


def load_lexicon(path: str | Path | None = None) -> Lexicon:
    """The lexicon table at ``path`` (default: the one shipped with rnnqa, :data:`TABLE_FILE`), read once.

    Raises:
        LexiconError: missing, not gzip'd JSON, or not a table of this format (one line, naming the file).
    """
    return _load(Path(path or TABLE_FILE))


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> Lexicon:
    try:
        data = json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} table")
        words = tuple(data["words"])
        synsets = tuple(tuple(s) for s in data["synsets"])
        first = {pos: dict(zip(pairs[0::2], pairs[1::2])) for pos, pairs in data["first"].items()}
        if set(first) != set(POS) or not all(isinstance(w, str) for w in words):
            raise ValueError("malformed table")
        lexicon = Lexicon(str(data["source"]), words, synsets, first, _unflat(data["similar"]),
                          _unflat(data["derived"]),
                          {pos: {f: tuple(b) for f, b in data["exceptions"][pos].items()} for pos in POS})
        top = len(words)
        if any(not 0 <= w < top for s in synsets for w in s) or any(
                not 0 <= s < len(synsets) for table in first.values() for s in table.values()):
            raise ValueError("ids out of range")
    except FileNotFoundError as exc:
        raise LexiconError(f"{path}: the lexicon is missing (reinstall rnnqa, or regenerate it with "
                           "python -m rnnqa.lexicon.build)") from exc
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError,
            IndexError) as exc:
        raise LexiconError(f"{path}: the lexicon is corrupted ({exc}); reinstall rnnqa, or regenerate it with "
                           "python -m rnnqa.lexicon.build") from exc
    return lexicon


def _unflat(flat: list[int]) -> dict[int, tuple[int, ...]]:
    out, i = {}, 0
    while i < len(flat):
        key, count = flat[i], flat[i + 1]
        out[key] = tuple(flat[i + 2: i + 2 + count])
        if len(out[key]) != count:
            raise ValueError("truncated link list")
        i += 2 + count
    return out
