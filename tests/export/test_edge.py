"""Edge bundles: int8 behind the accuracy gate, ORT format and its reduced-build config."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import numpy_helper

from rnnqa.bundle_format import MANIFEST_FILE, ONNX_FILE, ORT_CONFIG_FILE, ORT_FILE, TORCHSCRIPT_FILE
from rnnqa.data.table import load_qa_csv
from rnnqa.errors import BundleError, DataError, ExportError
from rnnqa.export import bundle as exporter
from rnnqa.export.bundle import export_bundle
from rnnqa.export.edge import quantize_int8
from rnnqa.runtime import QAModel
from tests.clients.node import JS, need_node


@pytest.fixture(scope="module")
def seed_run(seed_csv, tmp_path_factory) -> Path:
    from rnnqa.train.run import save_run
    from rnnqa.train.trainer import TrainConfig, train

    root = tmp_path_factory.mktemp("edge")
    result = train(load_qa_csv(seed_csv), None, TrainConfig(device="cpu", epochs=60))
    return save_run(result, root / "run", data=str(seed_csv))


@pytest.fixture(scope="module")
def bundles(seed_run, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("edge-bundles")
    return {"fp32": export_bundle(seed_run, root / "fp32").bundle_dir,
            "int8": export_bundle(seed_run, root / "int8", quantize="int8", ort=True).bundle_dir}


def test_the_int8_bundle_answers_every_training_question_and_records_its_gate(bundles, seed_csv):
    manifest = json.loads((bundles["int8"] / MANIFEST_FILE).read_text())
    assert manifest["variant"] == "int8" and manifest["quantization"]["weight_type"] == "QInt8"
    gate = manifest["accuracy_gate"]
    assert gate["passed"] and gate["train_lost"] == 0 and gate["agreement"] >= 0.99 and gate["questions"] == 90
    assert {name: r["questions"] for name, r in gate["refusals"].items()} == {"out-of-domain": 100, "near misses": 98}
    assert all(abs(r["int8"] - r["fp32"]) <= 0.01 + 1e-9 for r in gate["refusals"].values())
    # only the learned weights are quantized: the embedding and the output layer
    assert manifest["quantization"]["nodes"] == ["/model/embedding/Gather", "/model/head/Gemm"]
    assert not (bundles["int8"] / TORCHSCRIPT_FILE).exists()
    assert not (bundles["int8"] / "model_single.onnx").exists()  # answer runs the int8 model.onnx
    assert (bundles["int8"] / ONNX_FILE).stat().st_size < (bundles["fp32"] / ONNX_FILE).stat().st_size
    pairs = load_qa_csv(seed_csv)
    served = [(a.text, a.known) for a in QAModel.load(bundles["fp32"]).answer_batch(pairs.questions)]
    right = [i for i, (text, known) in enumerate(served) if known and text == pairs.answers[i]]
    assert len(right) > 80  # the float model answers nearly all of them confidently
    for graph in ("onnx", "ort"):
        model = QAModel.load(bundles["int8"], graph=graph)
        answers = model.answer_batch(pairs.questions)
        assert [a.text for a in answers] == pairs.answers, graph
        assert all(answers[i].known for i in right), graph


def test_the_ort_graph_answers_as_the_onnx_graph(bundles, seed_csv):
    questions = load_qa_csv(seed_csv).questions + ["What is the airspeed of an unladen swallow?"]
    onnx_model, ort_model = (QAModel.load(bundles["int8"], graph=g) for g in ("onnx", "ort"))
    np.testing.assert_allclose(ort_model.probabilities(questions), onnx_model.probabilities(questions), atol=1e-6)


def _config_operators(path: Path) -> set[tuple[str, str]]:
    found = set()
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        domain, _opset, ops = line.split(";", 2)
        depth, name = 0, ""
        for ch in ops + ",":  # "Op{json},Op2,…": commas inside the type JSON do not split operators
            depth += ch == "{"
            depth -= ch == "}"
            if ch == "," and depth == 0:
                found.add((domain, name.split("{", 1)[0]))
                name = ""
            else:
                name += ch
    return found


def test_the_reduced_build_config_lists_exactly_the_graph_operators(bundles):
    graph = onnx.load(bundles["int8"] / ONNX_FILE)
    in_graph = {(n.domain or "ai.onnx", n.op_type) for n in graph.graph.node} - {("ai.onnx", "Constant")}
    assert _config_operators(bundles["int8"] / ORT_CONFIG_FILE) == in_graph  # Constant nodes become initializers
    assert "/tmp" not in (bundles["int8"] / ORT_CONFIG_FILE).read_text()


def test_the_gate_tables_stay_exactly_as_the_float_graph_holds_them(bundles):
    tables = {}
    for variant in ("fp32", "int8"):
        graph = onnx.load(bundles[variant] / ONNX_FILE)
        tables[variant] = {i.name: numpy_helper.to_array(i) for i in graph.graph.initializer
                           if i.name.startswith("model.gate_")}
    assert sorted(tables["int8"]) == sorted(tables["fp32"]) and "model.gate_counts" in tables["fp32"]
    for name, value in tables["fp32"].items():
        assert tables["int8"][name].dtype == value.dtype and np.array_equal(tables["int8"][name], value), name


def test_the_int8_bundle_refuses_the_near_misses_the_float_one_refuses(bundles):
    from rnnqa.eval.questions import DEFAULT_NEAR_MISS, read_near_misses

    near, _ = read_near_misses(DEFAULT_NEAR_MISS)
    refused = {v: [not a.known for a in QAModel.load(bundles[v]).answer_batch(near)] for v in ("fp32", "int8")}
    assert sum(refused["fp32"]) > 0.8 * len(near)
    assert sum(a != b for a, b in zip(refused["fp32"], refused["int8"])) <= 1


def _break(source: Path, target: Path, weights) -> dict:
    """A quantizer gone wrong: its int8 graph prefers the first answer for every question."""
    settings = quantize_int8(source, target, weights)
    graph = onnx.load(target)
    gemm = next(n for n in graph.graph.node if n.op_type in ("Gemm", "Add") and len(n.input) >= 2)
    for init in graph.graph.initializer:
        if init.name in gemm.input and init.data_type == onnx.TensorProto.FLOAT:
            bias = numpy_helper.to_array(init).copy()
            bias[..., 0] = 1e4
            init.CopyFrom(numpy_helper.from_array(bias, init.name))
    onnx.save(graph, target)
    return settings


def _unsure(source: Path, target: Path, weights) -> dict:
    """A quantizer gone subtly wrong: the same top-1 answers, with confidences below the threshold."""
    graph = onnx.load(source)
    gemm = next(n for n in graph.graph.node if n.op_type == "Gemm")
    for init in graph.graph.initializer:
        if init.name in gemm.input[1:]:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 0.02, init.name))
    onnx.save(graph, target)
    return {}


def _bolder(source: Path, target: Path, weights) -> dict:
    """A quantizer that keeps every answer and raises every confidence: the output layer's weights and bias
    times 1.5 (the same argmax, a sharper softmax), then quantized as usual."""
    graph = onnx.load(source)
    gemm = next(n for n in graph.graph.node if n.op_type == "Gemm")
    for init in graph.graph.initializer:
        if init.name in gemm.input[1:]:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 1.5, init.name))
    bolder = target.with_name("bolder.onnx")
    onnx.save(graph, bolder)
    try:
        return quantize_int8(bolder, target, weights)
    finally:
        bolder.unlink()


def test_the_gate_refuses_a_graph_that_answers_alike_but_refuses_less(bundles, seed_run, tmp_path, monkeypatch):
    monkeypatch.setattr(exporter, "quantize_int8", _bolder)
    with pytest.raises(ExportError, match="accuracy gate") as raised:
        export_bundle(seed_run, tmp_path / "bundle", quantize="int8")
    message = str(raised.value)
    # every answer is kept, so only the refusals can fail it
    assert "top-1 agreement 1.0000" in message and "(0 training question(s) lost" in message
    moves = {name: (float(a), float(b)) for name, a, b in
             re.findall(r'(out-of-domain|near misses) answered "I don\'t know" (\S+) → (\S+) of', message)}
    assert sorted(moves) == ["near misses", "out-of-domain"]
    assert all(fp32 - int8 > 0.01 for fp32, int8 in moves.values()), moves
    assert not (tmp_path / "bundle").exists()


def test_the_refusal_probes_can_be_given_and_must_go_with_quantize(bundles, seed_run, tmp_path, write_csv):
    near = write_csv("question,kind\nWho painted the Moon?,subject\nWhat is the capital of the Moon?,subject\n",
                     "near.csv")
    ood = write_csv("How are you today?\nTell me a joke\nWhat time is it?\n", "ood.txt")
    result = export_bundle(seed_run, tmp_path / "bundle", quantize="int8", ood=ood, near_miss=near)
    refusals = result.manifest["accuracy_gate"]["refusals"]
    assert {name: r["questions"] for name, r in refusals.items()} == {"out-of-domain": 3, "near misses": 2}
    with pytest.raises(ExportError, match="for the accuracy gate of quantize"):
        export_bundle(seed_run, tmp_path / "fp32", ood=ood)
    from rnnqa.export.cli import main

    usage = CliRunner().invoke(main, [str(seed_run), "--out", str(tmp_path / "cli"), "--near-miss", str(near)])
    assert usage.exit_code == 2 and "--near-miss is for the accuracy gate of --quantize" in usage.output
    empty = write_csv("\n\n", "empty.txt")
    with pytest.raises(DataError, match="no questions in file"):
        export_bundle(seed_run, tmp_path / "empty", quantize="int8", ood=empty)
    assert not (tmp_path / "empty").exists() and not (tmp_path / "fp32").exists()


def test_the_gate_counts_an_answer_turned_into_i_dont_know_as_lost(bundles, seed_run, tmp_path, monkeypatch):
    monkeypatch.setattr(exporter, "quantize_int8", _unsure)
    with pytest.raises(ExportError, match=r"[1-9]\d* training question\(s\) lost"):
        export_bundle(seed_run, tmp_path / "bundle", quantize="int8")
    assert not (tmp_path / "bundle").exists()


def test_the_gate_refuses_a_broken_quantization_and_leaves_the_previous_bundle(bundles, seed_run, tmp_path,
                                                                                monkeypatch):
    target = tmp_path / "bundle"
    shutil.copytree(bundles["fp32"], target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    monkeypatch.setattr(exporter, "quantize_int8", _break)
    with pytest.raises(ExportError, match="accuracy gate.*training question"):
        export_bundle(seed_run, target, quantize="int8", force=True)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def _copy(bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle, tmp_path / "copy"))


def test_a_changed_ort_file_is_refused(bundles, tmp_path):
    copy = _copy(bundles["int8"], tmp_path)
    data = bytearray((copy / ORT_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / ORT_FILE).write_bytes(bytes(data))
    with pytest.raises(BundleError, match="model.ort: sha256 mismatch"):
        QAModel.load(copy)


@pytest.mark.parametrize("name", [ORT_FILE, ORT_CONFIG_FILE])
def test_a_missing_ort_file_is_refused(bundles, tmp_path, name):
    copy = _copy(bundles["int8"], tmp_path)
    (copy / name).unlink()
    with pytest.raises(BundleError, match=f"{name}: missing"):
        QAModel.load(copy)


def test_an_int8_manifest_claiming_fp32_is_refused(bundles, tmp_path):
    copy = _copy(bundles["int8"], tmp_path)
    manifest = json.loads((copy / MANIFEST_FILE).read_text())
    manifest["variant"] = "fp32"
    (copy / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="model.torchscript.pt"):
        QAModel.load(copy)
    manifest["variant"] = "int4"
    (copy / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="unknown variant 'int4'"):
        QAModel.load(copy)


@pytest.mark.parametrize("variant", [None, ["fp32"], {"name": "fp32"}, "int4", 42])
def test_a_variant_this_runtime_does_not_know_or_of_the_wrong_type_is_refused(bundles, tmp_path, variant):
    copy = _copy(bundles["fp32"], tmp_path)  # the JavaScript runtime refuses the same (clients/js/test)
    manifest = json.loads((copy / MANIFEST_FILE).read_text())
    manifest["variant"] = variant
    (copy / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="unknown variant"):
        QAModel.load(copy)


def test_asking_for_the_ort_graph_of_a_bundle_without_one(bundles):
    with pytest.raises(BundleError, match="no ORT-format graph"):
        QAModel.load(bundles["fp32"], graph="ort")
    with pytest.raises(ValueError, match="graph must be one of"):
        QAModel.load(bundles["fp32"], graph="tflite")


def test_qa_ask_and_the_javascript_runtime_load_the_int8_bundle_with_no_flag(bundles, seed_csv):
    questions = load_qa_csv(seed_csv).questions[:5]
    python = QAModel.load(bundles["int8"]).answer_batch(questions)
    ask = subprocess.run(["qa-ask", "--bundle", str(bundles["int8"]), "--json", *questions], capture_output=True,
                         text=True, timeout=120, cwd=JS.parents[1], env=_venv_env())
    assert ask.returncode == 0, ask.stderr
    assert [json.loads(line)["answer"] for line in ask.stdout.splitlines()] == [a.text for a in python]
    need_node()
    node = subprocess.run(["node", "bin/qa-ask.js", "--bundle", str(bundles["int8"]), "--json", *questions],
                          capture_output=True, text=True, timeout=120, cwd=JS)
    assert node.returncode == 0, node.stderr
    got = [json.loads(line) for line in node.stdout.splitlines()]
    assert [g["answer"] for g in got] == [a.text for a in python]
    # int8 kernels differ a little between onnxruntime builds (onnxruntime-node's is not Python's): 7.5e-5 seen
    assert [g["confidence"] for g in got] == pytest.approx([a.confidence for a in python], abs=5e-4)


def _venv_env() -> dict:
    import os
    import sys

    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
