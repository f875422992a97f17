"""`answer` on the single-question graph with the gate in Python, against model.onnx, and its loading checks."""

from __future__ import annotations

import csv
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from rnnqa.bundle_format import GATE_FILE, ONNX_FILE, SINGLE_FILE
from rnnqa.eval.questions import DEFAULT_NEAR_MISS, DEFAULT_OOD
from rnnqa.runtime import QAModel
from rnnqa.runtime.single_run import single_run
from tests.runtime.test_bundle import edit_json, refused, rehash

QUALITY = Path(__file__).resolve().parents[2] / "quality"


@pytest.fixture
def bundle(make_bundle, tmp_path):
    path = tmp_path / "bundle"
    shutil.copytree(make_bundle("gru"), path)
    return path


def questions(model: QAModel) -> list[str]:
    """Training questions, reworded ones, near misses and out-of-domain ones the model can encode."""
    vectors = json.loads((model.bundle.path / "conformance.json").read_text())["vectors"]
    found = [case["text"] for case in vectors if isinstance(case["text"], str)]
    for path in (QUALITY / "default_reworded.csv", DEFAULT_NEAR_MISS):
        with open(path, encoding="utf-8") as fh:
            found += [row["question"] for row in csv.DictReader(fh)]
    found += DEFAULT_OOD.read_text(encoding="utf-8").splitlines()
    out = []
    for text in found:
        try:
            model.encode(text)
        except (TypeError, ValueError):
            continue
        out.append(text)
    return out


def test_answer_on_the_single_graph_agrees_with_model_onnx_and_the_gate_closes(bundle):
    model = QAModel.load(bundle)
    state = model._state
    assert state.single is not None and state.gate is not None  # the lean path is the one under test
    texts = questions(model)
    batch = model.answer_rows([model.encode(t) for t in texts])  # model.onnx, the gate in the graph
    closed = 0
    for text, want in zip(texts, batch):
        got = model.answer(text)
        assert (got.text, got.known) == (want.text, want.known), text
        assert got.confidence == pytest.approx(want.confidence, abs=1e-5), text
        closed += state.gate.scale(model.encode(text), model.vocab.answers.index(got.text)) < 1.0
    assert len(texts) > 300 and closed > 0  # some answers went through the gate's closed branch


def test_a_bundle_without_the_single_graph_answers_with_model_onnx(bundle):
    lean = QAModel.load(bundle)
    for name in (SINGLE_FILE, GATE_FILE):
        (bundle / name).unlink()
        edit_json(bundle / "manifest.json", lambda m, name=name: m["files"].pop(name))
    plain = QAModel.load(bundle)
    assert plain._state.single is None
    for text in ("What is the capital of Peru?", "Who painted Guernica?", "what is the currency of peru"):
        a, b = lean.answer(text), plain.answer(text)
        assert (a.text, a.known) == (b.text, b.known) and a.confidence == pytest.approx(b.confidence, abs=1e-5)


def test_the_ort_graph_answers_without_the_single_graph(make_run, tmp_path):
    from rnnqa.export.bundle import export_bundle

    path = export_bundle(make_run("gru"), tmp_path / "b", ort=True).bundle_dir
    assert QAModel.load(path, graph="ort")._state.single is None
    assert QAModel.load(path)._state.single is not None


def test_a_gated_model_without_gate_json_is_refused(bundle):
    (bundle / GATE_FILE).unlink()
    edit_json(bundle / "manifest.json", lambda m: m["files"].pop(GATE_FILE))
    refused(bundle, GATE_FILE, "missing: the model has a substitution gate")


def test_gate_json_without_the_single_graph_is_refused(bundle):
    (bundle / SINGLE_FILE).unlink()
    edit_json(bundle / "manifest.json", lambda m: m["files"].pop(SINGLE_FILE))
    refused(bundle, GATE_FILE, "present without model_single.onnx")


@pytest.mark.parametrize("change", [
    lambda g: g.update(version=3),
    lambda g: g.pop("synonyms"),  # version 2 without its groups
    lambda g: g.update(version=1),  # groups in a version-1 table
    lambda g: g["synonyms"].append([g["synonyms"][0][0], 2]),  # an id in two groups
    lambda g: g["synonyms"].append([5]),  # a group of one
    lambda g: g.update(factor=0),
    lambda g: g.update(factor=True),
    lambda g: g["questions"].pop(),
    lambda g: g["questions"].__setitem__(0, {}),
    lambda g: g["questions"][0][0].append(10 ** 9),
    lambda g: g.update(content=["7"]),
])
def test_an_invalid_gate_table_is_refused(bundle, change):
    edit_json(bundle / GATE_FILE, change)
    rehash(bundle, GATE_FILE)
    refused(bundle, GATE_FILE, "not a valid gate table")


def test_a_gate_table_that_is_not_json_is_refused(bundle):
    (bundle / GATE_FILE).write_bytes(b"\xff{")
    rehash(bundle, GATE_FILE)
    refused(bundle, GATE_FILE, "not a valid gate table")


def test_a_single_graph_with_another_interface_is_refused(bundle):
    shutil.copy(bundle / ONNX_FILE, bundle / SINGLE_FILE)
    rehash(bundle, SINGLE_FILE)
    refused(bundle, SINGLE_FILE, "graph inputs")


def test_a_single_graph_that_answers_otherwise_is_refused(bundle):
    """Rehashed, so only the runtime's probe against model.onnx can tell."""
    proto = onnx.load(str(bundle / SINGLE_FILE))
    (bias,) = [t for t in proto.graph.initializer if t.name == "head_bias"]
    values = numpy_helper.to_array(bias).copy()
    values[0] += 100.0
    bias.CopyFrom(numpy_helper.from_array(values, bias.name))
    (bundle / SINGLE_FILE).write_bytes(proto.SerializeToString())
    rehash(bundle, SINGLE_FILE)
    refused(bundle, SINGLE_FILE, "answers a probe")


def test_reload_takes_or_drops_the_single_path_with_the_bundle(bundle, make_bundle, tmp_path):
    plain = tmp_path / "plain"
    shutil.copytree(bundle, plain)
    for name in (SINGLE_FILE, GATE_FILE):
        (plain / name).unlink()
        edit_json(plain / "manifest.json", lambda m, name=name: m["files"].pop(name))
    model = QAModel.load(bundle)
    model.reload(plain)
    assert model._state.single is None and model._state.gate is None
    model.reload(make_bundle("gru"))
    assert model._state.single is not None and model._state.gate is not None


def test_a_format_3_bundle_may_not_list_the_single_graph(bundle):
    edit_json(bundle / "manifest.json", lambda m: m.update(format_version=3))
    refused(bundle, "manifest.json", "'files' must list the sha256 of exactly")


def test_a_single_graph_onnxruntime_cannot_load_is_named(bundle):
    proto = onnx.load(str(bundle / SINGLE_FILE))
    proto.graph.node[1].op_type = "GRUX"
    (bundle / SINGLE_FILE).write_bytes(proto.SerializeToString())
    rehash(bundle, SINGLE_FILE)
    refused(bundle, SINGLE_FILE, "onnxruntime cannot load it")


def test_a_deeply_nested_gate_table_is_refused(bundle):
    (bundle / GATE_FILE).write_text("[" * 100_000 + "]" * 100_000)
    rehash(bundle, GATE_FILE)
    refused(bundle, GATE_FILE, "not a valid gate table")


def as_format_4(bundle: Path) -> None:
    """Rewrite ``bundle`` as format 4 wrote it: the single graph decodes itself with TopK (answer_index,
    confidence [1, 1])."""
    proto = onnx.load(str(bundle / SINGLE_FILE))
    k = numpy_helper.from_array(np.array([1], np.int64), "k")
    proto.graph.initializer.append(k)
    proto.graph.node.append(onnx.helper.make_node("TopK", ["probabilities", "k"], ["confidence", "answer_index"]))
    del proto.graph.output[:]
    proto.graph.output.extend([onnx.helper.make_tensor_value_info("answer_index", onnx.TensorProto.INT64, [1, 1]),
                               onnx.helper.make_tensor_value_info("confidence", onnx.TensorProto.FLOAT, [1, 1])])
    onnx.checker.check_model(proto)
    (bundle / SINGLE_FILE).write_bytes(proto.SerializeToString())
    edit_json(bundle / "manifest.json", lambda m: m.update(format_version=4))
    rehash(bundle, SINGLE_FILE)


def test_a_format_4_bundle_answers_on_its_own_single_graph(bundle, tmp_path):
    old = tmp_path / "format4"
    shutil.copytree(bundle, old)
    as_format_4(old)
    new_model, old_model = QAModel.load(bundle), QAModel.load(old)
    assert [o.name for o in old_model._state.single.get_outputs()] == ["answer_index", "confidence"]
    for text in questions(new_model):
        got, want = old_model.answer(text), new_model.answer(text)
        assert (got.text, got.known) == (want.text, want.known), text
        assert got.confidence == pytest.approx(want.confidence, abs=1e-6), text


def test_each_format_reads_only_its_own_single_graph(bundle, tmp_path):
    old = tmp_path / "format4"
    shutil.copytree(bundle, old)
    as_format_4(old)
    edit_json(old / "manifest.json", lambda m: m.update(format_version=5))
    refused(old, SINGLE_FILE, "expected [('input_ids'")  # a format-5 manifest, a format-4 graph
    edit_json(bundle / "manifest.json", lambda m: m.update(format_version=4))
    refused(bundle, SINGLE_FILE, "expected [('input_ids'")


@pytest.mark.parametrize("form", ["5", "4"])
def test_the_bound_run_answers_as_a_plain_run_at_every_length_and_when_held(bundle, tmp_path, form):
    """single_run's IOBinding path against session.run: every row length up to max_len (and the first use
    of each length), a row longer than max_len, and a caller that finds the buffers held."""
    if form == "4":
        as_format_4(bundle)
    model = QAModel.load(bundle)
    session, max_len = model._state.single, model.max_len
    run = single_run(session, "input_ids", max_len)
    assert hasattr(run, "lock")  # the bound path, not the plain run
    rng = np.random.default_rng(0)
    rows = [rng.integers(0, len(model.vocab), size=n).tolist() for n in [*range(1, max_len + 1), *range(max_len, 0, -1)]]

    def plain(row):
        outputs = session.run(None, {"input_ids": np.array(row, np.int64)[:, None]})
        if form == "4":
            return int(outputs[0][0, 0]), float(outputs[1][0, 0])
        return int(outputs[0][0].argmax()), float(outputs[0][0].max())

    assert len({plain(row)[0] for row in rows}) > 1  # answers vary: a stale buffer would show
    for row in rows:
        index, confidence = run(row)
        assert (index, confidence) == plain(row) and type(index) is int and type(confidence) is float
    with run.lock:  # another thread's answer holds the buffers: this one runs on arrays of its own
        for row in rows[:5]:
            assert run(row) == plain(row)
    long_run = single_run(session, "input_ids", 3)
    assert long_run(rows[max_len - 1]) == plain(rows[max_len - 1])  # longer than its max_len: a plain run


def test_threads_answering_at_once_get_the_serial_answers(bundle):
    model = QAModel.load(bundle)
    texts = questions(model)[:200]
    serial = [model.answer(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            assert list(pool.map(model.answer, texts * 2)) == serial * 2


def test_a_session_with_another_provider_keeps_session_run(bundle, monkeypatch):
    """Only a CPU-only session runs on bound buffers: any other keeps session.run and its provider fall-back."""
    session = QAModel.load(bundle)._state.single
    row = [2, 3, 4]
    want = single_run(session, "input_ids", 8)(row)
    monkeypatch.setattr(session, "get_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    other = single_run(session, "input_ids", 8)
    assert not hasattr(other, "lock") and other(row) == want  # the plain run: no buffers bound, no lock


def test_the_single_session_runs_without_the_memory_arena(bundle):
    """Its few small tensors come from malloc (make_session's arena=False); model.onnx keeps the arena for batches."""
    state = QAModel.load(bundle)._state
    assert not state.single.get_session_options().enable_cpu_mem_arena
    assert state.session.get_session_options().enable_cpu_mem_arena
