import hashlib
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from rnnqa.bundle_format import (BUNDLE_FILES, DEFAULT_THRESHOLD, LEGACY_THRESHOLD, ONNX_METADATA_KEY, OPTIONAL_FILES,
                                 ORT_CONFIG_FILE, ORT_FILE)
from rnnqa.data.table import default_dataset_path, load_qa_csv
from rnnqa.data.text import make_tokenizer, tokenizer_from_json
from rnnqa.data.tokenizer import ALIAS_VERSION
from rnnqa.errors import ExportError, ParityError
from rnnqa.export import bundle as bundle_module
from rnnqa.export.bundle import export_bundle, read_manifest
from rnnqa.export.graphs import IR_VERSION, export_onnx, export_torchscript
from rnnqa.export.validate import parity_batches, validate_parity
from rnnqa.train.model import CELLS
from rnnqa.train.run import load_run


NUM_ANSWERS = len(set(load_qa_csv(default_dataset_path()).answers))


# every cell with the default (max) read-out, and the last-state read-out of runs saved before it
MODELS = {**{cell: dict(cell=cell, layers=2 if cell == "lstm" else 1) for cell in CELLS},
          "gru-last": dict(cell="gru", readout="last")}


@pytest.fixture(scope="module")
def bundles(make_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundles")
    return {name: export_bundle(make_run(**model), out / name) for name, model in MODELS.items()}


def mixed_batch(rng, vocab_size, batch, max_len):
    lengths = rng.integers(1, max_len + 1, size=batch)
    ids = np.zeros((batch, int(lengths.max()) + 2), dtype=np.int64)  # extra trailing padding too
    for i, n in enumerate(lengths):
        ids[i, :n] = rng.integers(2, vocab_size, size=n)
    return ids, lengths.astype(np.int64)


@pytest.mark.parametrize("name", list(MODELS))
def test_independent_check_torchscript_and_onnx_agree_at_other_shapes(bundles, make_run, name):
    """Not using validate_parity: load both files as a user would and compare to the eager model."""
    result = bundles[name]
    eager = load_run(make_run(**MODELS[name])).model
    assert eager.config.readout == MODELS[name].get("readout", "max")
    scripted = torch.jit.load(str(result.bundle_dir / "model.torchscript.pt"))
    session = ort.InferenceSession(str(result.bundle_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(7)
    vocab_size = result.manifest["model"]["vocab_size"]
    for batch, max_len in [(1, 1), (1, 32), (3, 5), (9, 17), (64, 32)]:
        ids, lengths = mixed_batch(rng, vocab_size, batch, max_len)
        with torch.no_grad():
            expected = eager(torch.from_numpy(ids), torch.from_numpy(lengths)).numpy()
            ts = scripted(torch.from_numpy(ids), torch.from_numpy(lengths)).numpy()
        ox, probs_graph, index, confidence = session.run(None, {"input_ids": ids, "lengths": lengths})
        for got in (ts, ox):
            assert got.shape == (batch, result.manifest["model"]["num_answers"]) and got.dtype == np.float32
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
            assert np.array_equal(got.argmax(1), expected.argmax(1))
        assert index.dtype == np.int64 and np.array_equal(index, expected.argmax(1))
        probs = np.exp(expected - expected.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        assert confidence.dtype == probs_graph.dtype == np.float32
        np.testing.assert_allclose(probs_graph, probs, rtol=0, atol=1e-5)
        assert np.array_equal(confidence, probs_graph.max(1))


def test_bundle_holds_its_files_and_true_hashes(bundles):
    result = bundles["gru"]
    written = set(BUNDLE_FILES + OPTIONAL_FILES) - {ORT_FILE, ORT_CONFIG_FILE}  # those with --ort only
    assert sorted(p.name for p in result.bundle_dir.iterdir()) == sorted(written)
    manifest = read_manifest(result.bundle_dir)
    assert manifest == json.loads(json.dumps(result.manifest))
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((result.bundle_dir / name).read_bytes()).hexdigest() == digest
    assert set(manifest["files"]) == written - {"manifest.json"}
    assert manifest["format_version"] == 5 and manifest["threshold"] == DEFAULT_THRESHOLD
    # qa-train's default carries WordNet aliases, which only a version-3 declaration may hold
    assert manifest["tokenizer_version"] == ALIAS_VERSION
    assert tokenizer_from_json(json.loads((result.bundle_dir / "vocab.json").read_text())["tokenizer"]).aliases
    assert [i["name"] for i in manifest["inputs"]] == ["input_ids", "lengths"]
    assert manifest["outputs"] == [
        {"name": "logits", "dtype": "float32", "shape": ["batch", NUM_ANSWERS]},
        {"name": "probabilities", "dtype": "float32", "shape": ["batch", NUM_ANSWERS]},
        {"name": "answer_index", "dtype": "int64", "shape": ["batch"]},
        {"name": "confidence", "dtype": "float32", "shape": ["batch"]},
    ]
    assert manifest["max_len"] == manifest["model"]["max_len"] == 32
    assert manifest["parity"]["passed"] and manifest["parity"]["rows"] > 200
    assert set(manifest["parity"]["max_abs_diff"]) == {"torchscript", "onnx"}
    assert manifest["versions"]["torch"] == torch.__version__ and manifest["versions"]["onnxruntime"] == ort.__version__


def test_vocab_json_lets_another_language_reproduce_ids(bundles):
    vocab = json.loads((bundles["rnn"].bundle_dir / "vocab.json").read_text())
    assert vocab["tokens"][:2] == ["<PAD>", "<UNK>"] and (vocab["pad_id"], vocab["unk_id"]) == (0, 1)
    declaration = vocab["tokenizer"]
    assert (declaration["spec"], declaration["version"], declaration["kind"]) == ("rnnqa-tokenizer", 3, "stem")
    assert tokenizer_from_json(declaration).without_aliases() == make_tokenizer("stem") and len(vocab["answers"]) == NUM_ANSWERS
    assert "Gabriel García Márquez" in vocab["answers"]


def test_onnx_is_single_file_pinned_and_self_describing(bundles):
    path = bundles["lstm"].bundle_dir / "model.onnx"
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.ir_version <= IR_VERSION
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [17]
    assert all(t.data_location == onnx.TensorProto.DEFAULT for t in proto.graph.initializer)
    meta = json.loads({p.key: p.value for p in proto.metadata_props}[ONNX_METADATA_KEY])
    assert meta["onnx"] == {"opset": 17, "ir_version": proto.ir_version}
    assert meta["model"]["cell"] == "lstm" and meta["threshold"] == DEFAULT_THRESHOLD
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in proto.graph.input]
    assert dims == [["batch", "seq"], ["batch"]]


@pytest.mark.parametrize("opset", [14, 17, 20])
def test_installed_onnxruntime_loads_the_opsets_we_allow(make_run, tmp_path, opset):
    model = load_run(make_run("gru")).model
    written = export_onnx(model, tmp_path / "m.onnx", opset)
    assert written["opset"] == opset and written["ir_version"] <= IR_VERSION
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    ids, lengths = np.array([[2, 3, 4]]), np.array([3])
    out, _, index, _ = session.run(None, {"input_ids": ids, "lengths": lengths})
    assert index.tolist() == [int(out.argmax())]
    np.testing.assert_allclose(out, model(torch.from_numpy(ids), torch.from_numpy(lengths)).detach().numpy(), atol=1e-5)


def test_unsupported_opset_is_refused(make_run, tmp_path):
    with pytest.raises(ExportError, match="--opset must be between"):
        export_onnx(load_run(make_run("gru")).model, tmp_path / "m.onnx", 9)


def test_perturbed_weight_after_export_fails_validation_listing_every_problem(make_run, tmp_path):
    run = load_run(make_run("rnn"))
    export_torchscript(run.model, tmp_path / "m.pt")
    export_onnx(run.model, tmp_path / "m.onnx")
    batches = parity_batches(run.vocab, ["what is the capital of peru"], run.model.config.max_len)
    validate_parity(run.model, batches, tmp_path / "m.pt", tmp_path / "m.onnx")  # passes first
    with torch.no_grad():
        run.model.head.bias[0] += 0.01
    with pytest.raises(ParityError) as info:
        validate_parity(run.model, batches, tmp_path / "m.pt", tmp_path / "m.onnx")
    failures = info.value.failures
    logit_failures = [f for f in failures if "logits max |diff|" in f]
    assert len(logit_failures) == 2 * len(batches)  # every batch, both formats: collected, not first-only
    assert any(f.startswith("torchscript at batch 1×") and "exceeds atol 1e-05" in f for f in failures)
    assert any("probabilities max |diff|" in f for f in failures)
    assert any(f.startswith("onnx at batch") for f in failures)


def test_a_graph_that_decodes_wrongly_fails_validation(make_run, tmp_path, monkeypatch):
    from rnnqa.export import graphs

    run = load_run(make_run("gru"))
    export_torchscript(run.model, tmp_path / "m.pt")

    def wrong_decoding(self, input_ids, lengths):  # right logits, but the least likely answer
        logits = self.model(input_ids, lengths)
        probabilities = torch.softmax(logits, dim=1)
        confidence, answer_index = probabilities.min(dim=1)
        return logits, probabilities, answer_index, confidence

    monkeypatch.setattr(graphs.ServingHead, "forward", wrong_decoding)
    export_onnx(run.model, tmp_path / "m.onnx")
    batches = parity_batches(run.vocab, ["what is the capital of peru"], run.model.config.max_len)
    with pytest.raises(ParityError) as info:
        validate_parity(run.model, batches, tmp_path / "m.pt", tmp_path / "m.onnx")
    failures = info.value.failures
    assert any("answer_index differs from the eager argmax" in f for f in failures)
    assert any("probabilities/confidence max |diff|" in f for f in failures)
    assert not any("logits max |diff|" in f or f.startswith("torchscript") for f in failures)


def test_failed_validation_writes_no_bundle_and_keeps_the_previous_one(make_run, tmp_path, monkeypatch):
    run_dir, out = make_run("gru"), tmp_path / "bundle"
    export_bundle(run_dir, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = bundle_module.export_onnx

    def export_then_drift(model, path, opset, metadata=None):
        written = real(model, path, opset, metadata)
        with torch.no_grad():
            model.head.weight.mul_(1.5)  # the graph on disk no longer matches the eager model
        return written

    monkeypatch.setattr(bundle_module, "export_onnx", export_then_drift)
    with pytest.raises(ParityError, match="parity validation failed"):
        export_bundle(run_dir, out, force=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]  # no staging directory left behind


def test_existing_bundle_needs_force(make_run, tmp_path):
    out = tmp_path / "bundle"
    export_bundle(make_run("gru"), out)
    with pytest.raises(ExportError, match="already exists.*--force"):
        export_bundle(make_run("gru"), out)
    export_bundle(make_run("gru"), out, force=True)


def test_parity_softmax_does_not_overflow_on_huge_logits():
    from rnnqa.export.validate import softmax

    logits = np.array([[1000.0, 999.0, -5.0], [0.5, 0.25, 0.0]], dtype=np.float32)
    probs = softmax(logits)
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs[0, :2], [1 / (1 + np.exp(-1)), np.exp(-1) / (1 + np.exp(-1))], rtol=1e-12)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)


def test_the_bundle_takes_the_runs_threshold_unless_told_otherwise(make_run, tmp_path):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(make_run("gru"), run_dir)
    config_path = run_dir / "config.json"
    config = json.loads(config_path.read_text())
    assert config["train"]["threshold"] == DEFAULT_THRESHOLD  # qa-train records it

    def exported(name, **kw):
        return export_bundle(run_dir, tmp_path / name, **kw).manifest["threshold"]

    config["train"]["threshold"] = 0.42  # as `qa-train --threshold 0.42` writes it
    config_path.write_text(json.dumps(config))
    assert exported("own") == 0.42
    assert exported("told", threshold=0.7) == 0.7
    del config["train"]["threshold"]  # a run saved before runs recorded one: what qa-export wrote then
    config_path.write_text(json.dumps(config))
    assert exported("legacy") == LEGACY_THRESHOLD == 0.5
    config["train"]["threshold"] = "high"
    config_path.write_text(json.dumps(config))
    with pytest.raises(ExportError, match="threshold must be a number"):
        exported("bad")
    with pytest.raises(ExportError, match=r"threshold must be in \[0, 1\]"):
        exported("bad", threshold=1.5)
    assert not (tmp_path / "bad").exists()


def test_the_parity_report_passes_only_on_its_checks():
    from rnnqa.export.validate import ParityReport

    checked = dict(rows=10, max_prob_diff={"onnx": 1e-7, "torchscript": 0.0}, atol=1e-5)
    assert ParityReport(**checked).passed and ParityReport(**checked).to_json()["passed"] is True
    assert not ParityReport(**{**checked, "rows": 0}).passed  # nothing checked
    assert not ParityReport(**{**checked, "max_prob_diff": {"onnx": 2e-5}}).passed
    assert not ParityReport(**checked, failures=["onnx: argmax differs on 1 of 10 row(s)"]).to_json()["passed"]
