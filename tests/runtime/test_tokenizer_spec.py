"""docs/tokenizer.md's answers to the questions a port from the page alone had to guess (issue #27, item 5).

Each test pins one answer: the bundle format version a bundle has; what becomes of a word a stem rule empties;
which malformed declarations a runtime refuses; what the absent fields default to; which files besides
``manifest.files`` a bundle may hold. ``test_javascript_decides_every_declaration_alike`` runs the same
declarations through clients/js/src/tokenizer.js (when ``node`` exists), so both runtimes keep one rule;
clients/js/test/spec.test.js checks the JavaScript loader on the bundle-level answers.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from rnnqa.data.text import Vocabulary, tokenizer_from_json
from rnnqa.data.tokenizer import DeclaredTokenizer, preset_declaration
from rnnqa.errors import BundleError, ConfigError, QuestionError
from rnnqa.runtime import QAModel
from rnnqa.runtime.bundle import load_bundle

ROOT = Path(__file__).resolve().parents[2]
TOKENIZER_JS = ROOT / "clients" / "js" / "src" / "tokenizer.js"

TINY = {
    "spec": "rnnqa-tokenizer", "version": 2, "kind": "tiny", "map": {"41": "a", "df": "ss", "301": ""},
    "letters": [[97, 122], [0x1D400, 0x1D433]], "digits": [[48, 57]], "joiners": [39], "drop_s_after_joiner": True,
    "space": [[32, 32]],
    "stem": {"min_length": 5, "rules": [{"suffix": "ing", "replacement": "", "min_rest": 4},
                                        {"suffix": "s", "replacement": "", "min_rest": 4, "except_suffix": "ss"}]},
}
TEXTS = ["Ab's cde'f ''s x'", "dancing glass floors", "ßing e\u0301e 12ab-CD", "𝐀𝐁𝐂𝐃𝐄s", "x", "a x b", "' '", "",
         "banana", "big come up with", "\t"]
# A stem rule that can take a whole word: "x" (1 letter, min_length 1) loses its suffix "x" and is left empty.
EMPTYING_STEM = {"min_length": 1, "rules": [{"suffix": "x", "replacement": "", "min_rest": 0}]}


def with_(**changes) -> dict:
    declaration = copy.deepcopy(TINY)
    for key, value in changes.items():
        if value is ...:
            declaration.pop(key, None)
        else:
            declaration[key] = value
    return declaration


def stem_rule(**changes) -> dict:
    rule = {"suffix": "ing", "replacement": "", "min_rest": 4}
    for key, value in changes.items():
        if value is ...:
            rule.pop(key)
        else:
            rule[key] = value
    return {"min_length": 5, "rules": [rule]}


# Declarations every runtime must refuse, by what is wrong (docs/tokenizer.md, "Declarations a runtime refuses").
REFUSED = {
    # map keys: lower-case hexadecimal, no prefix, no padding, at most 10ffff
    "map key padded": with_(map={"00df": "ss"}),
    "map key with a leading zero": with_(map={"041": "a"}),
    "map key upper-case": with_(map={"DF": "ss"}),
    "map key mixed case": with_(map={"Df": "ss"}),
    "map key with 0x": with_(map={"0x41": "a"}),
    "map key U+": with_(map={"U+41": "a"}),
    "map key with a space": with_(map={" 41": "a"}),
    "map key with a sign": with_(map={"+41": "a"}),
    "map key empty": with_(map={"": "a"}),
    "map key above 10ffff": with_(map={"110000": "a"}),
    "map key decimal beyond hex": with_(map={"g": "a"}),
    "map value not a string": with_(map={"41": 5}),
    "map value null": with_(map={"41": None}),
    "map a list": with_(map=[["41", "a"]]),
    # ranges: [first, last] pairs of integers, first <= last, sorted, disjoint
    "ranges unsorted": with_(letters=[[97, 122], [65, 90]]),
    "ranges overlapping": with_(letters=[[65, 90], [80, 100]]),
    "ranges sharing an end": with_(letters=[[65, 90], [90, 100]]),
    "range reversed": with_(letters=[[122, 97]]),
    "range a string": with_(letters=["az"]),
    "range of hex strings": with_(letters=[["61", "7a"]]),
    "range of three": with_(letters=[[97, 100, 122]]),
    "range of one": with_(letters=[[97]]),
    "range of booleans": with_(digits=[[True, True]]),
    "range negative": with_(digits=[[-1, 5]]),
    "range above 10ffff": with_(digits=[[48, 0x110000]]),
    "range an object": with_(digits=[{"first": 48, "last": 57}]),
    "digits unsorted": with_(digits=[[48, 57], [40, 41]]),
    "space overlapping": with_(space=[[9, 13], [12, 32]]),
    "letters an object": with_(letters={"97": 122}),
    # joiners: integer code points
    "joiner a hex string": with_(joiners=["27"]),
    "joiner true": with_(joiners=[True]),
    "joiner negative": with_(joiners=[-1]),
    "joiners not a list": with_(joiners=39),
    # space, letters, digits, U+0020
    "space a letter": with_(space=[[32, 32], [97, 97]]),
    "space a digit": with_(space=[[32, 32], [48, 48]]),
    "U+0020 a letter": with_(letters=[[32, 32], [97, 122]], space=[[9, 9]]),
    "U+0020 a digit": with_(digits=[[32, 32], [48, 57]], space=[]),
    "U+0020 a joiner": with_(joiners=[32, 39]),
    # required fields, and their types
    "spec absent": with_(spec=...),
    "spec other": with_(spec="rnnqa"),
    "version absent": with_(version=...),
    "version 1": with_(version=1),
    "version 4": with_(version=4),
    "version a string": with_(version="2"),
    "version true": with_(version=True),
    "kind absent": with_(kind=...),
    "kind not a string": with_(kind=5),
    "map absent": with_(map=...),
    "letters absent": with_(letters=...),
    "digits absent": with_(digits=...),
    "joiners absent": with_(joiners=...),
    "space absent": with_(space=...),
    "drop_s_after_joiner absent": with_(drop_s_after_joiner=...),
    "drop_s_after_joiner not a boolean": with_(drop_s_after_joiner=1),
    # stem
    "stem a string": with_(stem="porter"),
    "stem a list": with_(stem=[]),
    "stem false": with_(stem=False),
    "stem without rules": with_(stem={"min_length": 5}),
    "stem without min_length": with_(stem={"rules": []}),
    "stem min_length true": with_(stem={"min_length": True, "rules": []}),
    "stem min_length a string": with_(stem={"min_length": "5", "rules": []}),
    "stem rule null": with_(stem={"min_length": 5, "rules": [None]}),
    "stem rule a string": with_(stem={"min_length": 5, "rules": ["ing"]}),
    "stem rule without suffix": with_(stem=stem_rule(suffix=...)),
    "stem rule with an empty suffix": with_(stem=stem_rule(suffix="")),
    "stem rule without replacement": with_(stem=stem_rule(replacement=...)),
    "stem rule replacement null": with_(stem=stem_rule(replacement=None)),
    "stem rule without min_rest": with_(stem=stem_rule(min_rest=...)),
    "stem rule min_rest true": with_(stem=stem_rule(min_rest=True)),
    "stem rule except_suffix empty": with_(stem=stem_rule(except_suffix="")),
    "stem rule except_suffix a number": with_(stem=stem_rule(except_suffix=5)),
    "stem rule except_suffix a list": with_(stem=stem_rule(except_suffix=["ss"])),
    # aliases: version 3 only; keys tokens joined by single spaces, values one token
    "aliases in version 2": with_(aliases={"big": "larg"}),
    "empty aliases in version 2": with_(aliases={}),
    "null aliases in version 2": with_(aliases=None),
    "aliases null": with_(version=3, aliases=None),
    "aliases a list": with_(version=3, aliases=[]),
    "alias key empty": with_(version=3, aliases={"": "a"}),
    "alias key with two spaces": with_(version=3, aliases={"come  up": "invent"}),
    "alias key with a leading space": with_(version=3, aliases={" come": "arriv"}),
    "alias value empty": with_(version=3, aliases={"big": ""}),
    "alias value two tokens": with_(version=3, aliases={"big": "very larg"}),
    "alias value not a string": with_(version=3, aliases={"big": 5}),
}

# Declarations every runtime reads, with the defaults and orders the page states.
ACCEPTED = {
    "as given": TINY,
    "unicode absent, or anything (informational)": with_(unicode=14),
    "fields the page does not name are ignored": with_(comment="hand-written", future={"x": 1}),
    "stem absent is stem null": with_(stem=...),
    "stem null": with_(stem=None),
    "stem with no rules": with_(stem={"min_length": 5, "rules": []}),
    "except_suffix null is except_suffix absent": with_(stem=stem_rule(except_suffix=None)),
    "negative min_length and min_rest act as 0": with_(stem={"min_length": -3, "rules": [
        {"suffix": "a", "replacement": "", "min_rest": -9}]}),
    "version 3 without aliases": with_(version=3),
    "version 3 with no aliases": with_(version=3, aliases={}),
    "aliases": with_(version=3, aliases={"big": "larg", "come up": "invent", "come": "arriv", "larg": "x"}),
    "adjacent ranges": with_(letters=[[97, 109], [110, 122]]),
    "empty tables": with_(map={}, letters=[], digits=[], joiners=[], space=[]),
    "a letter also a digit is a letter": with_(digits=[[48, 57], [97, 97]]),
    "a joiner also a letter is a joiner": with_(joiners=[39, 110]),
    "joiners repeated, unsorted": with_(joiners=[39, 39, 35]),
    "a joiner in space": with_(space=[[32, 32], [39, 39]]),
    "a map key for a surrogate": with_(map={"d800": "q", "0": "z"}),
    "a letter the map makes": with_(map={"41": "é"}, letters=[[97, 122], [0xE9, 0xE9]]),
    "a word emptied by a stem rule": with_(stem=EMPTYING_STEM),
    "an emptied word among aliases": with_(version=3, stem=EMPTYING_STEM, aliases={"a b": "ab", "b": "a"}),
    # U+0000, U+0009, U+0027 and U+FFFF all letters, with joiners: Python marks joiners with a joiner itself
    "almost every code point a letter": with_(letters=[[0, 31], [33, 0x10FFFF]], digits=[], space=[[32, 32]],
                                              joiners=[39], map={}),
}


def python_decides(declaration: dict) -> dict:
    try:
        tokenizer = DeclaredTokenizer(declaration)
    except ConfigError as exc:
        return {"refused": str(exc)}
    return {"tokens": [tokenizer(text) for text in TEXTS], "blank": [tokenizer.is_blank(text) for text in TEXTS]}


@pytest.mark.parametrize("name", REFUSED)
def test_malformed_declarations_are_refused(name):
    assert "refused" in python_decides(REFUSED[name]), name


@pytest.mark.parametrize("name", ACCEPTED)
def test_declarations_the_page_allows_are_read(name):
    assert "tokens" in python_decides(ACCEPTED[name]), python_decides(ACCEPTED[name])


def test_the_refusals_name_the_rule():
    def message(declaration):
        with pytest.raises(ConfigError) as info:
            DeclaredTokenizer(declaration)
        return str(info.value)

    assert "no leading zeros" in message(REFUSED["map key padded"])
    assert "lower-case hexadecimal" in message(REFUSED["map key upper-case"])
    assert "sorted, disjoint" in message(REFUSED["ranges unsorted"])
    assert "sorted, disjoint" in message(REFUSED["ranges overlapping"])
    assert "integer code points" in message(REFUSED["range a string"])
    assert "an integer 0 to 0x10FFFF" in message(REFUSED["joiner a hex string"])
    assert "space characters must not be letters or digits" in message(REFUSED["space a letter"])
    assert "U+0020 (space) must be a separator" in message(REFUSED["U+0020 a joiner"])
    assert "non-empty string except_suffix" in message(REFUSED["stem rule except_suffix empty"])
    assert "'min_length' must be a int, got bool" in message(REFUSED["stem min_length true"])


def test_defaults_for_absent_fields():
    tokens = python_decides(TINY)["tokens"]
    unstemmed = python_decides(with_(stem=None))["tokens"]
    assert python_decides(with_(stem=...))["tokens"] == unstemmed != tokens
    assert python_decides(with_(stem={"min_length": 5, "rules": []}))["tokens"] == unstemmed
    assert python_decides(with_(stem=stem_rule(except_suffix=None)))["tokens"] == python_decides(
        with_(stem=stem_rule()))["tokens"]
    assert python_decides(with_(version=3))["tokens"] == python_decides(with_(version=3, aliases={}))["tokens"] == tokens
    assert python_decides(with_(unicode=14, comment="x"))["tokens"] == tokens
    assert DeclaredTokenizer(TINY)("dancing glass floors") == ["danc", "glass", "floor"]


def test_orders_of_classification_and_negative_minimums():
    assert DeclaredTokenizer(ACCEPTED["a joiner also a letter is a joiner"])("banana") == ["baaa"]
    letter_digit = DeclaredTokenizer(ACCEPTED["a letter also a digit is a letter"])
    assert letter_digit.char_class(ord("a")) == "letter" and letter_digit("stemmings") == ["stemming"]
    assert DeclaredTokenizer(ACCEPTED["negative min_length and min_rest act as 0"])("a banana") == ["", "banan"]
    blank = DeclaredTokenizer(ACCEPTED["a joiner in space"])
    assert blank("' '") == [] and blank.is_blank("' '")
    wide = DeclaredTokenizer(ACCEPTED["almost every code point a letter"])
    assert wide("ab'cd,e\tf 'x") == ["abcd,e\tf", "x"]


def test_a_word_a_stem_rule_empties_stays_as_the_empty_token():
    """Step 4 drops empty words; a word step 5 empties is not dropped: it is the token "", whose id is unk_id
    unless "" is in vocab.tokens. So a question of such words has ids, and no step-8 error."""
    tokenizer = DeclaredTokenizer(with_(stem=EMPTYING_STEM))
    assert tokenizer("x") == [""] and tokenizer("a x b") == ["a", "", "b"] and tokenizer("x'") == [""]
    vocab = Vocabulary(("<PAD>", "<UNK>", "a", "b"), ("yes",), tokenizer)
    assert vocab.encode_question("x", 10) == [1]
    assert vocab.encode_question("a x b", 2) == [2, 1]  # it counts towards max_len
    with pytest.raises(QuestionError, match="question has no words"):
        vocab.encode_question("-", 10)
    trained = Vocabulary.build(["a x"], ["yes"], tokenizer)  # qa-train keeps it as a token like any other
    assert trained.tokens == ("<PAD>", "<UNK>", "a", "") and trained.encode_question("x b", 10) == [3, 1]
    aliased = DeclaredTokenizer(ACCEPTED["an emptied word among aliases"])
    assert aliased("a x b") == ["a", "", "a"]  # "" is never part of a key: "a b" does not match across it
    assert aliased("a b") == ["ab"]


def test_javascript_decides_every_declaration_alike(tmp_path):
    """The same declarations through clients/js/src/tokenizer.js: refused by both, or read by both with the
    same tokens and the same blank texts."""
    if shutil.which("node") is None:
        pytest.skip("node not found: the JavaScript tokenizer was not compared")
    cases = {**{f"refused: {k}": v for k, v in REFUSED.items()}, **{f"accepted: {k}": v for k, v in ACCEPTED.items()}}
    (tmp_path / "cases.json").write_text(json.dumps({"cases": cases, "texts": TEXTS}), encoding="utf-8")
    script = (
        "import { readFileSync } from 'node:fs';"
        f"import {{ DeclaredTokenizer }} from {json.dumps(TOKENIZER_JS.as_uri())};"
        "const { cases, texts } = JSON.parse(readFileSync(process.argv[1], 'utf8'));"
        "const out = {};"
        "for (const [name, declaration] of Object.entries(cases)) {"
        "  let tok;"
        "  try { tok = new DeclaredTokenizer(declaration); } catch (e) {"
        "    out[name] = { refused: `${e.name}: ${e.message}` }; continue; }"
        "  out[name] = { tokens: texts.map((t) => tok.tokenize(t)), blank: texts.map((t) => tok.isBlank(t)) };"
        "}"
        "process.stdout.write(JSON.stringify(out));"
    )
    run = subprocess.run(["node", "--input-type=module", "-e", script, str(tmp_path / "cases.json")],
                         capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert run.returncode == 0, run.stderr
    javascript = json.loads(run.stdout)
    for name, declaration in cases.items():
        python, js = python_decides(declaration), javascript[name]
        if "refused" in python:
            assert "refused" in js and js["refused"].startswith("TypeError: "), (name, js)
        else:
            assert js == python, name


# Bundle-level answers: format version, the numbers and bytes of vocab.json, aliases against the vocabulary,
# and the files a bundle may hold besides manifest.files.

@pytest.fixture
def bundle(make_bundle, tmp_path):
    path = tmp_path / "bundle"
    shutil.copytree(make_bundle("gru"), path)
    return path


def rehash(bundle: Path, name: str) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256((bundle / name).read_bytes()).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def write_vocab(bundle: Path, text: str) -> None:
    (bundle / "vocab.json").write_bytes(text.encode("utf-8"))
    rehash(bundle, "vocab.json")


def refused(bundle: Path, file: str, reason: str) -> str:
    with pytest.raises(BundleError) as info:
        QAModel.load(bundle)
    assert info.value.file == file and reason in info.value.reason, str(info.value)
    return info.value.reason


def test_bundles_are_format_5_with_tokenizer_version_2_or_3(bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    vocab = json.loads((bundle / "vocab.json").read_text())
    assert manifest["format_version"] == 5 and "model_single.onnx" in manifest["files"]
    assert vocab["tokenizer"]["spec"] == "rnnqa-tokenizer" and vocab["tokenizer"]["version"] in (2, 3)


@pytest.mark.parametrize("field, literal, reason", [
    ("format_version", "4.0", "unsupported format version 4.0 "), ("format_version", '"4"', "unsupported format version '4' "),
    ("max_len", "32.0", "missing or invalid 'max_len'"), ("max_len", "3.2e1", "missing or invalid 'max_len'"),
    ("max_len", "true", "missing or invalid 'max_len'")])
def test_format_version_and_max_len_are_integers_written_as_such(bundle, field, literal, reason):
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest[field] = "NUMBER"
    (bundle / "manifest.json").write_text(json.dumps(manifest).replace('"NUMBER"', literal))
    refused(bundle, "manifest.json", reason)


@pytest.mark.parametrize("literal", ["5.0", "-1", '"5"', "true", "null"])
def test_gate_questions_is_an_integer_written_as_such(bundle, literal):
    """JSON.parse reads 5.0 as 5 ("gated") where Python reads a float ("no gate"): both runtimes refuse it."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["model"]["gate_questions"] = "NUMBER"
    (bundle / "manifest.json").write_text(json.dumps(manifest).replace('"NUMBER"', literal))
    refused(bundle, "manifest.json", "'model.gate_questions' must be an integer ≥ 0")


@pytest.mark.parametrize("declaration", ["map key padded", "map key upper-case", "ranges unsorted",
                                         "ranges overlapping", "space a letter", "kind absent"])
def test_a_bundle_with_a_malformed_declaration_is_a_bundle_error(bundle, declaration):
    vocab = json.loads((bundle / "vocab.json").read_text())
    vocab["tokenizer"] = REFUSED[declaration]
    write_vocab(bundle, json.dumps(vocab))
    refused(bundle, "vocab.json", "not a valid vocabulary")


NUMBERS = {  # where in vocab.json, and the number written there in place of an integer
    "a code point": (lambda v: v["tokenizer"]["letters"][0].__setitem__(0, "NUMBER"), "65.0"),
    "min_length": (lambda v: v["tokenizer"]["stem"].__setitem__("min_length", "NUMBER"), "5.0"),
    "version": (lambda v: v["tokenizer"].__setitem__("version", "NUMBER"), "2.0"),
    "pad_id": (lambda v: v.__setitem__("pad_id", "NUMBER"), "0.0"),
    "an exponent": (lambda v: v["tokenizer"]["joiners"].__setitem__(0, "NUMBER"), "39e0"),
    "a negative exponent": (lambda v: v.__setitem__("unk_id", "NUMBER"), "10E-1"),
}


@pytest.mark.parametrize("where", NUMBERS)
def test_every_number_in_vocab_json_is_written_as_an_integer(bundle, where):
    """JavaScript's JSON.parse cannot tell 97.0 from 97 and Python refuses 97.0 where an integer is due: so
    every runtime refuses a number with a fraction or an exponent anywhere in vocab.json."""
    vocab = json.loads((bundle / "vocab.json").read_text(encoding="utf-8"))
    change, literal = NUMBERS[where]
    change(vocab)
    write_vocab(bundle, json.dumps(vocab, ensure_ascii=False).replace('"NUMBER"', literal))
    reason = refused(bundle, "vocab.json", f"not a valid vocabulary: the number {literal} is not written as an integer")
    assert reason.endswith("(every number in vocab.json is one)")


def test_json_with_a_byte_order_mark_or_nan_is_refused(bundle):
    """vocab.json and manifest.json are UTF-8 JSON (RFC 8259): no byte order mark, no NaN or Infinity."""
    text = (bundle / "vocab.json").read_text(encoding="utf-8")
    write_vocab(bundle, "\ufeff" + text)
    refused(bundle, "vocab.json", "not a valid vocabulary")
    write_vocab(bundle, json.dumps({**json.loads(text), "pad_id": "NUMBER"}).replace('"NUMBER"', "NaN"))
    refused(bundle, "vocab.json", "not a valid vocabulary: NaN is not JSON")
    write_vocab(bundle, text)
    (bundle / "manifest.json").write_text("\ufeff" + (bundle / "manifest.json").read_text(encoding="utf-8"),
                                          encoding="utf-8")
    refused(bundle, "manifest.json", "not valid JSON")


def test_an_alias_must_lead_from_outside_the_vocabulary_onto_a_token(bundle):
    vocab = json.loads((bundle / "vocab.json").read_text())
    tokenizer = vocab["tokenizer"]
    token = vocab["tokens"][2]
    for aliases in ({"zzzq": "zzzr"}, {token: vocab["tokens"][3]}):  # a value not a token; a key that is one
        tokenizer.update(version=3, aliases=aliases)
        write_vocab(bundle, json.dumps(vocab))
        refused(bundle, "vocab.json", "an alias maps a word outside the vocabulary onto a vocabulary token")
    tokenizer.update(version=3, aliases={"zzzq": token})
    write_vocab(bundle, json.dumps(vocab))
    assert QAModel.load(bundle).encode("zzzq") == [2]


def test_a_legacy_version_1_tokenizer_is_python_only(bundle):
    """{"kind": "stem"} without a version is rnnqa's version-1 rule: Python reads it, a port refuses it (as the
    JavaScript runtime does); `"version": true` is no version 1."""
    assert tokenizer_from_json({"kind": "stem"}).__class__.__name__ == "LegacyTokenizer"
    with pytest.raises(ConfigError, match="not supported"):
        tokenizer_from_json({"kind": "stem", "version": True})
    vocab = json.loads((bundle / "vocab.json").read_text())
    vocab["pad_id"] = False
    write_vocab(bundle, json.dumps(vocab))
    refused(bundle, "vocab.json", "pad_id=0, unk_id=1")


def test_model_sig_is_the_one_file_allowed_outside_manifest_files(bundle):
    (bundle / "model.sig").write_text("not even JSON")  # never read without a key
    assert load_bundle(bundle).signed_by is None
    manifest = json.loads((bundle / "manifest.json").read_text())
    listed = copy.deepcopy(manifest)
    listed["files"]["model.sig"] = hashlib.sha256(b"not even JSON").hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(listed))
    refused(bundle, "manifest.json", "'files' must list the sha256 of exactly")  # never listed in it
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    (bundle / "model.sig").unlink()
    (bundle / "model.sig").mkdir()
    refused(bundle, "model.sig", "is not a regular file")


@pytest.mark.parametrize("name", [".DS_Store", "README.md", "model.sig.bak", "manifest.json.orig"])
def test_any_other_file_outside_manifest_files_is_refused(bundle, name):
    (bundle / name).write_text("x")
    refused(bundle, name, "unexpected file in the bundle")


def test_a_file_name_the_format_does_not_know_is_refused_even_when_listed(bundle):
    (bundle / "notes.txt").write_text("x")
    rehash(bundle, "notes.txt")
    refused(bundle, "manifest.json", "'files' must list the sha256 of exactly")


def test_a_hash_in_upper_case_is_a_mismatch(bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"]["vocab.json"] = manifest["files"]["vocab.json"].upper()
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    refused(bundle, "vocab.json", "sha256 mismatch")


@pytest.mark.parametrize("kind", ["stem", "english", "words", "notebook"])
def test_the_presets_pass_the_rules_they_are_held_to(kind):
    declaration = json.loads(json.dumps(preset_declaration(kind)), parse_float=lambda x: pytest.fail(x))
    assert DeclaredTokenizer(declaration).char_class(0x20) == "separator"
