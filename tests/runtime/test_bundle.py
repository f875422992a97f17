"""Every loading check, each with a bundle broken in exactly one way."""

import hashlib
import json
import os
import shutil

import pytest

from rnnqa.errors import BundleError
from rnnqa.runtime import QAModel
from rnnqa.runtime.bundle import load_bundle


@pytest.fixture
def bundle(make_bundle, tmp_path):
    path = tmp_path / "bundle"
    shutil.copytree(make_bundle("gru"), path)
    return path


def edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def rehash(bundle, name):
    """Update the manifest's hash of ``name``, so only the check under test can catch the change."""
    digest = hashlib.sha256((bundle / name).read_bytes()).hexdigest()
    edit_json(bundle / "manifest.json", lambda m: m["files"].__setitem__(name, digest))


def refused(bundle, file, reason):
    with pytest.raises(BundleError) as info:
        QAModel.load(bundle)
    assert info.value.file == file and reason in info.value.reason, str(info.value)
    return str(info.value)


def test_intact_bundle_loads(bundle):
    assert load_bundle(bundle).vocab.tokens[:2] == ("<PAD>", "<UNK>")


@pytest.mark.parametrize("name", ["model.onnx", "vocab.json", "model.torchscript.pt", "conformance.json",
                                  "tokenizer.json", "tokenizer_config.json", "model_single.onnx", "gate.json"])
def test_any_changed_byte_is_a_sha256_mismatch(bundle, name):
    data = bytearray((bundle / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (bundle / name).write_bytes(bytes(data))
    message = refused(bundle, name, "sha256 mismatch")
    assert message == f"{name}: sha256 mismatch — the bundle was modified or is incomplete"


@pytest.mark.parametrize("name", ["model.onnx", "vocab.json", "manifest.json", "model.torchscript.pt",
                                  "conformance.json"])
def test_missing_file(bundle, name):
    (bundle / name).unlink()
    refused(bundle, name, "missing — the bundle is incomplete")


def test_extra_file(bundle):
    (bundle / "notes.txt").write_text("hi")
    refused(bundle, "notes.txt", "unexpected file")


def test_symlink_inside_the_bundle(bundle, tmp_path):
    target = tmp_path / "elsewhere.json"
    shutil.move(bundle / "vocab.json", target)
    os.symlink(target, bundle / "vocab.json")
    refused(bundle, "vocab.json", "symbolic link")


def test_bundle_directory_itself_a_symlink_or_missing(bundle, tmp_path):
    os.symlink(bundle, tmp_path / "link")
    with pytest.raises(BundleError, match="not a bundle directory"):
        QAModel.load(tmp_path / "link")
    with pytest.raises(BundleError, match="not a bundle directory"):
        QAModel.load(tmp_path / "absent")


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda m: m.update(format_version=99), "unsupported format version 99"),
        (lambda m: m.update(format_version=[3]), "unsupported format version [3]"),
        (lambda m: m.update(format_version=3.0), "unsupported format version 3.0"),
        (lambda m: m.update(format_version=True), "unsupported format version True"),
        (lambda m: m.update(format="something-else"), "not an rnnqa-bundle manifest"),
        (lambda m: m["files"].pop("vocab.json"), "'files' must list"),
        (lambda m: m.update(max_len=0), "'max_len' must be"),
        (lambda m: m.update(threshold="high"), "invalid 'threshold'"),
    ],
)
def test_bad_manifest(bundle, change, reason):
    edit_json(bundle / "manifest.json", change)
    refused(bundle, "manifest.json", reason)


def test_manifest_that_is_not_json(bundle):
    (bundle / "manifest.json").write_bytes(b"\xff{not json")
    refused(bundle, "manifest.json", "not valid JSON")


def test_vocab_that_disagrees_with_the_graph(bundle):
    edit_json(bundle / "vocab.json", lambda v: v["answers"].append("Atlantis"))
    rehash(bundle, "vocab.json")
    refused(bundle, "vocab.json", "answers, but the manifest")
    edit_json(bundle / "manifest.json", lambda m: m["model"].update(num_answers=m["model"]["num_answers"] + 1))
    refused(bundle, "model.onnx", "to match vocab.json")


def test_vocab_that_is_not_a_vocabulary(bundle):
    edit_json(bundle / "vocab.json", lambda v: v.update(tokenizer={"kind": "mystery"}))
    rehash(bundle, "vocab.json")
    refused(bundle, "vocab.json", "not a valid vocabulary")


def test_onnx_with_external_data_is_refused(bundle):
    import onnx
    from onnx.external_data_helper import convert_model_to_external_data

    proto = onnx.load(str(bundle / "model.onnx"))
    convert_model_to_external_data(proto, all_tensors_to_one_file=True, location="../../outside.bin", size_threshold=0)
    (bundle / "model.onnx").write_bytes(proto.SerializeToString())
    rehash(bundle, "model.onnx")
    refused(bundle, "model.onnx", "reference external data")


def test_onnx_that_is_not_onnx(bundle):
    (bundle / "model.onnx").write_bytes(b"\x0a\xff\xff\xff\xff garbage")
    rehash(bundle, "model.onnx")
    refused(bundle, "model.onnx", "not an ONNX model")


def test_onnx_with_renamed_inputs(bundle):
    import onnx

    proto = onnx.load(str(bundle / "model.onnx"))
    old = proto.graph.input[1].name
    proto.graph.input[1].name = "seq_lengths"
    for node in proto.graph.node:
        node.input[:] = ["seq_lengths" if i == old else i for i in node.input]
    onnx.save(proto, str(bundle / "model.onnx"))
    rehash(bundle, "model.onnx")
    refused(bundle, "model.onnx", "graph inputs are")


def test_onnx_without_the_decoding_outputs_is_refused(bundle):
    """A format-1 style graph (logits only) behind a manifest that claims otherwise."""
    import onnx

    proto = onnx.load(str(bundle / "model.onnx"))
    while len(proto.graph.output) > 1:
        proto.graph.output.pop()
    onnx.save(proto, str(bundle / "model.onnx"))
    rehash(bundle, "model.onnx")
    refused(bundle, "model.onnx", "graph outputs are")


def test_older_format_version_names_the_fix(bundle):
    edit_json(bundle / "manifest.json", lambda m: m.update(format_version=1))
    message = refused(bundle, "manifest.json", "unsupported format version 1")
    assert "export the run again" in message


def test_format_2_bundle_with_a_version_1_tokenizer_answers_as_it_did(bundle):
    """A bundle exported before conformance.json and the declared tokenizer: four files, {"kind": "stem"}."""
    from rnnqa.data.legacy_tokenizer import LegacyTokenizer

    declared = QAModel.load(bundle)
    make_format_2(bundle)
    edit_json(bundle / "vocab.json", lambda v: v.update(tokenizer={"kind": "stem"}))
    rehash(bundle, "vocab.json")
    legacy = QAModel.load(bundle)
    assert legacy.vocab.tokenizer == LegacyTokenizer("stem")
    assert legacy.encode("İstanbul?") == [1, 1]  # the version-1 rule: "i", "stanbul" (the declared one: "istanbul")
    assert declared.encode("İstanbul?") == [1]
    for question in ("What is the capital of Peru?", "Who painted Guernica?"):
        old, new = legacy.answer(question), declared.answer(question)  # model.onnx / model_single.onnx
        assert (old.text, old.known) == (new.text, new.known)
        assert old.confidence == pytest.approx(new.confidence, abs=1e-6)


def make_format_2(bundle):
    for name in ("conformance.json", "tokenizer.json", "tokenizer_config.json", "model_single.onnx", "gate.json"):
        (bundle / name).unlink()
        edit_json(bundle / "manifest.json", lambda m: m["files"].pop(name))
    edit_json(bundle / "manifest.json", lambda m: m.update(format_version=2))


def test_format_2_bundle_must_not_carry_conformance_json(bundle):
    make_format_2(bundle)
    (bundle / "conformance.json").write_text("{}")
    refused(bundle, "conformance.json", "unexpected file")


def test_optional_files_are_listed_and_hashed_when_present(bundle):
    (bundle / "tokenizer_config.json").unlink()
    refused(bundle, "tokenizer_config.json", "missing")
    edit_json(bundle / "manifest.json", lambda m: m["files"].pop("tokenizer_config.json"))
    QAModel.load(bundle)  # a bundle without the Hugging Face files is complete
    edit_json(bundle / "manifest.json", lambda m: m["files"].pop("tokenizer.json"))
    refused(bundle, "tokenizer.json", "unexpected file")
