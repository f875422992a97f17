"""qa-ask --input … --engine ray: the same answers as answer_batch, on a 2-CPU local Ray cluster."""

import csv
import json

import pytest
from click.testing import CliRunner

from rnnqa.errors import BatchError
from rnnqa.runtime import QAModel
from rnnqa.batch.column import BatchAnswerer
from rnnqa.runtime.cli import main

ray = pytest.importorskip("ray")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
ray_engine = pytest.importorskip("rnnqa.batch.ray_engine")

QUESTIONS = ["What is the capital of Peru?", "", None, "Who wrote 'Hamlet'?", "???", "What is the capital of France?"]
N = 3000  # enough rows for several blocks and batches, few enough to stay quick


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def bundle(make_bundle):
    return make_bundle("gru", epochs=30)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    path = tmp_path_factory.mktemp("ray") / "in.parquet"
    table = pa.table({"id": pa.array(range(N), pa.int64()), "question": [QUESTIONS[i % 6] for i in range(N)],
                      "tags": [[i] for i in range(N)]})
    pq.write_table(table, path, row_group_size=500)
    return path, table


def expected(bundle, questions):
    model = QAModel.load(bundle)
    good = [q for q in questions if isinstance(q, str) and q.strip("?")]
    answers = iter(model.answer_batch(good))
    return [next(answers) if isinstance(q, str) and q.strip("?") else None for q in questions]


@pytest.mark.parametrize("workers", [1, 2])
def test_parquet_matches_answer_batch_in_order(cluster, bundle, source, tmp_path, monkeypatch, workers):
    monkeypatch.setattr(ray_engine, "BLOCK_BYTES", 16 << 10)  # many blocks: several actors, tasks and files
    path, table = source
    summary = ray_engine.answer_with_ray(bundle, path, tmp_path / "out.parquet", workers=workers, batch_size=256)
    files = sorted((tmp_path / "out.parquet").iterdir())
    assert len(files) > 1 and all(f.name.startswith("part-") and f.suffix == ".parquet" for f in files)
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.select(["id", "question", "tags"]).equals(table)  # passed through, in order, types kept
    want = expected(bundle, table["question"].to_pylist())
    assert out["answer"].to_pylist() == [w and w.text for w in want]
    assert out["confidence"].to_pylist() == [w and w.confidence for w in want]
    assert out["known"].to_pylist() == [w and w.known for w in want]
    errors = out["error"].to_pylist()
    assert [e is None for e in errors] == [w is not None for w in want]
    assert errors[1] == "question is empty" and errors[2] == "question must be text, got nothing (a missing value)"
    assert (summary.rows, summary.errors) == (N, N // 2)


def test_csv_in_csv_out_keeps_text_columns(cluster, bundle, tmp_path):
    rows = [(f"{i:04d}", QUESTIONS[i % 6] or "") for i in range(600)]
    with open(tmp_path / "in.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("id", "question"), *rows])
    summary = ray_engine.answer_with_ray(bundle, tmp_path / "in.csv", tmp_path / "out.csv", workers=2, batch_size=100)
    out = []
    for part in sorted((tmp_path / "out.csv").iterdir()):
        with open(part, newline="") as fh:
            out += list(csv.DictReader(fh))
    assert [(r["id"], r["question"]) for r in out] == rows  # "0007" stays text
    want = expected(bundle, [r[1] for r in rows])
    assert [r["answer"] or None for r in out] == [w and w.text for w in want]
    assert [r["known"] or None for r in out] == [w and ("true" if w.known else "false") for w in want]
    assert summary.errors == 300


def test_jsonl_through_the_cli(cluster, bundle, tmp_path):
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"id": i, "question": QUESTIONS[i % 6] or ""}) + "\n"
                                               for i in range(60)))
    result = CliRunner().invoke(main, ["--bundle", str(bundle), "--input", str(tmp_path / "in.jsonl"), "--output",
                                       str(tmp_path / "out.parquet"), "--engine", "ray", "--workers", "2"])
    assert result.exit_code == 1 and "30 row(s) answered, 30 with errors" in result.stderr
    assert pq.read_table(tmp_path / "out.parquet")["id"].to_pylist() == list(range(60))


def test_refusals(cluster, bundle, source, tmp_path):
    with pytest.raises(BatchError, match="writes parquet or csv, not jsonl"):
        ray_engine.answer_with_ray(bundle, source[0], tmp_path / "out.jsonl")
    pq.write_table(pa.table({"text": ["x"]}), tmp_path / "bad.parquet")
    with pytest.raises(BatchError, match="no 'question' column"):
        ray_engine.answer_with_ray(bundle, tmp_path / "bad.parquet", tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


def test_actor_cpus_always_leave_room_for_reads():
    assert ray_engine._actor_cpus(2, 1) == 1.0 and ray_engine._actor_cpus(2, 2) == 0.5
    assert ray_engine._actor_cpus(16, 4) == 1.0 and ray_engine._actor_cpus(3, 3) == 0.66
    with pytest.raises(BatchError, match="at least 2 CPUs"):
        ray_engine._actor_cpus(1, 1)


def test_batch_answerer_takes_numpy_batches(bundle):
    np = pytest.importorskip("numpy")
    out = BatchAnswerer(bundle)({"id": np.array([1, 2]), "question": np.array(["What is the capital of Peru?", None],
                                                                              dtype=object)})
    assert list(out) == ["id", "question", "answer", "confidence", "known", "error"]
    assert out["answer"].tolist() == ["Lima", None] and out["error"][1].startswith("question must be text")
