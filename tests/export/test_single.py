"""The single-question graph (model_single.onnx) and the runtime's gate (gate.json) against the eager model."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch

from rnnqa.bundle_format import GATE_FILE, SINGLE_FILE, SINGLE_OUTPUT_NAMES
from rnnqa.data.padding import pad_rows
from rnnqa.errors import ParityError
from rnnqa.export.bundle import export_bundle
from rnnqa.export.single import gate_table, single_question_graph
from rnnqa.export.validate import parity_batches, validate_parity
from rnnqa.runtime.gate import SubstitutionGate
from rnnqa.runtime.session import make_session
from rnnqa.train.gate import gate_tables
from rnnqa.train.model import ModelConfig, QAClassifier

VOCAB, ANSWERS, MAX_LEN = 40, 7, 12


def random_model(seed: int = 0, **config) -> QAClassifier:
    torch.manual_seed(seed)
    model = QAClassifier(ModelConfig(VOCAB, ANSWERS, embed_dim=8, hidden_dim=12, max_len=MAX_LEN, **config)).eval()
    with torch.no_grad():  # large enough weights that answers and confidences vary from row to row
        for p in model.parameters():
            p.mul_(3.0)
    return model


def random_rows(n: int, seed: int = 1) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, VOCAB, size=int(rng.integers(1, MAX_LEN + 1))).tolist() for _ in range(n)]


def eager_probabilities(model: QAClassifier, rows: list[list[int]]) -> np.ndarray:
    ids, lengths = pad_rows(rows)
    with torch.no_grad():
        return torch.softmax(model(torch.from_numpy(ids), torch.from_numpy(lengths)), dim=1).numpy()


@pytest.mark.parametrize("opset", [14, 17, 18, 20])  # from 18 ReduceMax takes its axes as an input
@pytest.mark.parametrize("config", [
    {"cell": "gru"}, {"cell": "gru", "readout": "last"}, {"cell": "gru", "layers": 3}, {"cell": "lstm", "layers": 2},
    {"cell": "lstm", "readout": "last"}, {"cell": "rnn", "layers": 2, "readout": "last"}, {"cell": "rnn"},
])
def test_the_single_graph_answers_every_row_as_the_eager_model(config, opset):
    model = random_model(**config)
    session = make_session(single_question_graph(model, opset).SerializeToString())
    rows = random_rows(60)
    want = eager_probabilities(model, rows)
    assert len(set(want.argmax(1).tolist())) > 2  # not one answer for everything: the check can fail
    for row, want_row in zip(rows, want):
        (got,) = session.run(list(SINGLE_OUTPUT_NAMES), {"input_ids": np.array(row)[:, None]})
        assert got.shape == (1, ANSWERS) and got.dtype == np.float32
        np.testing.assert_allclose(got[0], want_row, atol=1e-5)
        assert int(got[0].argmax()) == int(want_row.argmax())


def test_the_single_graph_has_the_fewest_nodes():
    """Gather, GRU, ReduceMax, Gemm, Softmax: no shape arithmetic, transposes, masks, decoding or gate."""
    graph = single_question_graph(random_model(), 17).graph
    assert [n.op_type for n in graph.node] == ["Gather", "GRU", "ReduceMax", "Gemm", "Softmax"]
    assert [o.name for o in graph.output] == list(SINGLE_OUTPUT_NAMES)


def gated_model(seed: int = 0) -> tuple[QAClassifier, list[list[int]]]:
    """A model with a gate built from 30 synthetic training questions over 7 answers."""
    rng = np.random.default_rng(seed)
    rows = [rng.choice(np.arange(2, VOCAB), size=int(rng.integers(3, 8)), replace=False).tolist() for _ in range(30)]
    rows[1] = rows[1][:2] + [rows[1][0]] + rows[1][2:]  # one question repeats a word
    labels = torch.tensor([i % ANSWERS for i in range(len(rows))])
    ids, lengths = (torch.from_numpy(a) for a in pad_rows(rows))
    content, table, counts = gate_tables(ids, lengths, labels, ANSWERS, VOCAB, share=0.3)
    model = random_model(seed, gate_questions=table.shape[1], gate_words=table.shape[2])
    model.gate_content.copy_(content)
    model.gate_rows.copy_(table)
    model.gate_counts.copy_(counts)
    return model, rows


def probes(rows: list[list[int]], content: list[int], seed: int = 2) -> list[list[int]]:
    """The training questions, each with one content word swapped, one dropped, one doubled, plus random rows."""
    rng = np.random.default_rng(seed)
    out = list(rows)
    for row in rows:
        spots = [i for i, t in enumerate(row) if t in content]
        i = spots[int(rng.integers(len(spots)))]
        out.append(row[:i] + [int(rng.choice(content))] + row[i + 1:])
        out.append(row[:i] + row[i + 1:])
        out.append(row + [row[i]])
    return out + random_rows(40, seed)


def test_the_runtime_gate_closes_exactly_where_the_graph_gate_does():
    model, rows = gated_model()
    gate = SubstitutionGate.from_json(json.loads(json.dumps(gate_table(model))), VOCAB, ANSWERS)
    questions = probes(rows, sorted(gate.content))
    ids, lengths = (torch.from_numpy(a) for a in pad_rows(questions))
    closed = 0
    for answer in range(ANSWERS):  # every answer, not only the argmax: each table row is exercised
        index = torch.full((len(questions),), answer)
        want = model.answer_scale(ids, lengths, index).tolist()
        got = [gate.scale(q, answer) for q in questions]
        assert got == want
        closed += want.count(0.5)
    assert 0 < closed < len(questions) * ANSWERS // 2  # the gate both closes and stays open


def test_export_writes_and_checks_the_single_graph_and_gate(make_run, tmp_path):
    bundle = tmp_path / "bundle"
    result = export_bundle(make_run("gru"), bundle)
    assert {SINGLE_FILE, GATE_FILE} <= set(result.manifest["files"])
    parity = result.manifest["parity"]
    assert parity["single_rows"] == parity["rows"] > 0  # every parity row, one by one
    assert "single" in parity["max_prob_diff"]
    table = json.loads((bundle / GATE_FILE).read_text())
    assert table["factor"] == 0.5 and len(table["questions"]) == result.manifest["model"]["num_answers"]


def test_parity_batches_carry_swapped_questions_that_close_the_gate(make_run):
    from rnnqa.data.table import default_dataset_path, load_qa_csv
    from rnnqa.train.run import load_run

    run = load_run(make_run("gru"))
    gate = SubstitutionGate.from_json(gate_table(run.model), len(run.vocab), len(run.vocab.answers))
    pairs = load_qa_csv(default_dataset_path())
    batches = parity_batches(run.vocab, pairs.questions, run.model.config.max_len, content=sorted(gate.content))
    assert len(batches) == len(parity_batches(run.vocab, pairs.questions, run.model.config.max_len)) + 1
    ids, lengths = batches[-1]  # the first 64 training questions, one content word swapped in each
    taught = torch.tensor([run.vocab.answer_index(a) for a in pairs.answers[: len(lengths)]])
    with torch.no_grad():
        scale = run.model.answer_scale(torch.from_numpy(ids), torch.from_numpy(lengths), taught)
    assert len(lengths) == 64 and (scale == 0.5).sum() > 32  # most are one swap from their own question


def test_a_single_graph_that_disagrees_fails_parity(make_run, tmp_path):
    from rnnqa.export.graphs import export_onnx, export_torchscript
    from rnnqa.train.run import load_run

    run = load_run(make_run("gru"))
    export_torchscript(run.model, tmp_path / "m.pt")
    export_onnx(run.model, tmp_path / "m.onnx")
    other = QAClassifier(run.model.config)
    other.load_state_dict(run.model.state_dict())
    with torch.no_grad():
        other.head.bias[3] += 50.0  # answer 3 wins everywhere in the single graph only
    onnx.save(single_question_graph(other.eval(), 17), str(tmp_path / "single.onnx"))
    batches = parity_batches(run.vocab, ["What is the capital of France?"], run.model.config.max_len)
    with pytest.raises(ParityError, match="single on a"):
        validate_parity(run.model, batches, tmp_path / "m.pt", tmp_path / "m.onnx", single_path=tmp_path / "single.onnx")


def test_a_gate_that_disagrees_fails_parity(make_run, tmp_path):
    from rnnqa.data.table import default_dataset_path, load_qa_csv
    from rnnqa.export.graphs import export_onnx, export_torchscript
    from rnnqa.train.run import load_run

    run = load_run(make_run("gru"))
    for name, export in (("m.pt", export_torchscript), ("m.onnx", export_onnx)):
        export(run.model, tmp_path / name)
    onnx.save(single_question_graph(run.model, 17), str(tmp_path / "single.onnx"))
    table = gate_table(run.model)
    wrong = SubstitutionGate.from_json({**table, "factor": 0.25}, len(run.vocab), len(run.vocab.answers))
    questions = load_qa_csv(default_dataset_path()).questions
    batches = parity_batches(run.vocab, questions, run.model.config.max_len, content=sorted(wrong.content))
    validate_parity(run.model, batches, tmp_path / "m.pt", tmp_path / "m.onnx", single_path=tmp_path / "single.onnx",
                    gate=SubstitutionGate.from_json(table, len(run.vocab), len(run.vocab.answers)))
    with pytest.raises(ParityError, match="confidence"):
        validate_parity(run.model, batches, tmp_path / "m.pt", tmp_path / "m.onnx",
                        single_path=tmp_path / "single.onnx", gate=wrong)


def test_the_single_graph_is_written_for_small_fp32_models_only(make_run, tmp_path, monkeypatch):
    import rnnqa.export.bundle as bundle_module
    from rnnqa.errors import ExportError

    run = make_run("gru")
    off = export_bundle(run, tmp_path / "off", single_graph=False).manifest["files"]
    assert SINGLE_FILE not in off and GATE_FILE not in off
    monkeypatch.setattr(bundle_module, "SINGLE_GRAPH_MAX_BYTES", 1024)  # the test model's weights are larger
    assert SINGLE_FILE not in export_bundle(run, tmp_path / "auto", force=True).manifest["files"]
    assert SINGLE_FILE in export_bundle(run, tmp_path / "on", single_graph=True).manifest["files"]
    with pytest.raises(ExportError, match="fp32"):
        export_bundle(run, tmp_path / "int8", quantize="int8", single_graph=True)
    assert not (tmp_path / "int8").exists()


def test_an_answer_with_no_training_question_exports_with_an_empty_gate_row(tmp_path):
    """Runs saved when --val-split could take every question of an answer (it now holds out only questions
    whose answer keeps one): the answer stays a class, with no gate row to match, as gate_tables writes it."""
    from rnnqa.data.table import default_dataset_path, load_qa_csv
    from rnnqa.runtime import QAModel
    from rnnqa.train.gate import NO_QUESTION, NO_WORD
    from rnnqa.train.run import save_run
    from rnnqa.train.trainer import TrainConfig, train

    result = train(load_qa_csv(default_dataset_path()), {"embed_dim": 8, "hidden_dim": 12},
                   TrainConfig(device="cpu", epochs=2, seed=0))
    untaught = result.vocab.answers.index("Lima")
    result.model.gate_rows[untaught] = NO_WORD
    result.model.gate_counts[untaught] = NO_QUESTION
    table = gate_table(result.model)
    assert any(not rows for rows in table["questions"])  # the case under test exists
    save_run(result, tmp_path / "run", data=str(default_dataset_path()))
    bundle = export_bundle(tmp_path / "run", tmp_path / "bundle").bundle_dir
    model = QAModel.load(bundle)
    empty = next(i for i, rows in enumerate(table["questions"]) if not rows)
    assert model.bundle.gate.scale([2, 3, 4], empty) == 1.0
    assert model.answer("What is the capital of France?").text in model.vocab.answers


def test_qa_export_cli_single_graph_flags(make_run, tmp_path):
    from click.testing import CliRunner

    from rnnqa.export.cli import main

    for flag, present in (("--no-single-graph", False), ("--single-graph", True)):
        out = tmp_path / flag
        result = CliRunner().invoke(main, [str(make_run("gru")), "--out", str(out), flag])
        assert result.exit_code == 0, result.output
        manifest = json.loads((out / "manifest.json").read_text())
        assert (SINGLE_FILE in manifest["files"], manifest["format_version"]) == (present, 5 if present else 3)
    result = CliRunner().invoke(main, [str(make_run("gru")), "--out", str(tmp_path / "q"), "--quantize", "int8",
                                       "--single-graph"])
    assert result.exit_code == 1 and "fp32" in result.output
