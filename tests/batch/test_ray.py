"""qa-ask --input … --engine ray: the same answers as answer_batch, on a 2-CPU local Ray cluster."""

import csv
import json
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from rnnqa.errors import BatchError
from rnnqa.runtime import QAModel
from rnnqa.batch.column import BatchAnswerer
from rnnqa.ask.cli import main

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
    (tmp_path / "out.csv").mkdir()
    (tmp_path / "out.csv" / "part-000999.parquet").write_text("a previous output's file")  # replaced as a whole
    context = ray.data.DataContext.get_current()  # the caller's settings, which the job must give back
    context.execution_options.preserve_order, context.target_max_block_size = False, 64 << 20
    context.enable_progress_bars = True
    summary = ray_engine.answer_with_ray(bundle, tmp_path / "in.csv", tmp_path / "out.csv", workers=2, batch_size=100)
    assert (context.execution_options.preserve_order, context.target_max_block_size,
            context.enable_progress_bars) == (False, 64 << 20, True)
    assert not (tmp_path / "out.csv" / "part-000999.parquet").exists()
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


def test_a_directory_without_an_extension_gets_the_input_format(cluster, bundle, tmp_path):
    (tmp_path / "in.csv").write_text("id,question\n0007,What is the capital of Peru?\n")
    (tmp_path / "in.jsonl").write_text(json.dumps({"question": "What is the capital of Peru?"}) + "\n")
    for name, parts in (("in.csv", "*.csv"), ("in.jsonl", "*.parquet")):  # Ray writes no JSON Lines
        out = tmp_path / f"answered-{name[3:]}-out"
        ray_engine.answer_with_ray(bundle, tmp_path / name, out, workers=1)
        assert [p.name for p in out.iterdir()] and all(p.match(parts) for p in out.iterdir())
    ray_engine.answer_with_ray(bundle, tmp_path / "in.csv", tmp_path / "named", output_format="parquet", workers=1)
    assert pq.read_table(tmp_path / "named")["id"].to_pylist() == ["0007"]


def test_refusals(cluster, bundle, source, tmp_path):
    with pytest.raises(BatchError, match="writes parquet or csv, not jsonl"):
        ray_engine.answer_with_ray(bundle, source[0], tmp_path / "out.jsonl")
    pq.write_table(pa.table({"text": ["x"]}), tmp_path / "bad.parquet")
    with pytest.raises(BatchError, match="no 'question' column"):
        ray_engine.answer_with_ray(bundle, tmp_path / "bad.parquet", tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


@pytest.fixture
def no_ray(monkeypatch):
    """Refusals must come before Ray starts: starting it fails the test."""
    def start(address):
        raise AssertionError("Ray was started")

    monkeypatch.setattr(ray_engine, "_start_ray", start)


def listing(directory):
    return sorted((p.relative_to(directory).as_posix(), p.read_bytes()) for p in directory.rglob("*") if p.is_file())


def test_refuses_an_output_directory_that_holds_the_input(no_ray, bundle, source, tmp_path):
    (tmp_path / "in.parquet").write_bytes(source[0].read_bytes())
    (tmp_path / "keep.txt").write_text("keep me")
    before = listing(tmp_path)
    with pytest.raises(BatchError, match="holds the input"):
        ray_engine.answer_with_ray(bundle, tmp_path / "in.parquet", tmp_path, output_format="parquet")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "in.parquet").write_bytes(source[0].read_bytes())
    before = listing(tmp_path)
    with pytest.raises(BatchError, match="holds the input"):  # also deeper down, and through a ".." path
        ray_engine.answer_with_ray(bundle, tmp_path / "sub" / "in.parquet", tmp_path / "sub" / ".." / "sub",
                                   output_format="csv")
    assert listing(tmp_path) == before


def test_refuses_an_output_directory_holding_other_files(no_ray, bundle, source, tmp_path):
    out = tmp_path / "out.parquet"
    (out / "nested").mkdir(parents=True)
    (out / "part-000000.parquet").write_text("old")
    (out / "keep.txt").write_text("keep me")
    with pytest.raises(BatchError, match=r"holds keep\.txt, nested, not only the part-\*\.parquet"):
        ray_engine.answer_with_ray(bundle, source[0], out)
    (out / "keep.txt").unlink()
    with pytest.raises(BatchError, match="holds nested"):  # a directory is not a previous output's file either
        ray_engine.answer_with_ray(bundle, source[0], out)
    assert listing(out) == [("part-000000.parquet", b"old")]


def test_refuses_an_output_that_is_a_file_and_a_ray_client_address(no_ray, bundle, source, tmp_path):
    (tmp_path / "out.csv").write_text("a file, not a directory")
    with pytest.raises(BatchError, match="is a file; --engine ray writes a directory"):
        ray_engine.answer_with_ray(bundle, source[0], tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text() == "a file, not a directory"
    with pytest.raises(BatchError, match="Ray Client is not supported.*--address auto"):
        ray_engine.answer_with_ray(bundle, source[0], tmp_path / "new.parquet", address="ray://head:10001")
    assert not (tmp_path / "new.parquet").exists()


def test_the_cli_refuses_a_ray_client_address(no_ray, bundle, source, tmp_path):
    result = CliRunner().invoke(main, ["--bundle", str(bundle), "--input", str(source[0]), "--output",
                                       str(tmp_path / "out.parquet"), "--engine", "ray", "--address", "ray://h:1"])
    assert result.exit_code == 1 and "Ray Client is not supported" in result.stderr


def answered_block(n):
    return pa.table({"question": ["q"] * n, "answer": ["a"] * n, "confidence": [0.5] * n, "known": [True] * n,
                     "error": [None] * (n - 1) + ["bad"]})


def test_the_sink_returns_its_task_index_and_refuses_a_gap(tmp_path):
    sink = ray_engine.OrderedFileSink(str(tmp_path), "parquet")
    assert sink.write([answered_block(3)], SimpleNamespace(task_idx=1)) == (1, 3, 1)
    assert sink.write([], SimpleNamespace(task_idx=0)) == (0, 0, 0)  # no rows, still a task in the sequence
    sink.on_write_complete(SimpleNamespace(write_returns=[(1, 3, 1), (0, 0, 0), (2, 5, 2)]))
    assert (sink.rows, sink.errors) == (8, 3)
    with pytest.raises(BatchError, match="write tasks 0, 2, not 0 to 1.*the output was not written"):
        sink.on_write_complete(SimpleNamespace(write_returns=[(0, 3, 0), (2, 3, 0)]))
    with pytest.raises(BatchError, match="write tasks 0, 0, 1, not 0 to 2"):
        sink.on_write_complete(SimpleNamespace(write_returns=[(0, 3, 0), (1, 3, 0), (0, 3, 0)]))


def test_a_sink_refusal_leaves_the_previous_output(cluster, bundle, source, tmp_path, monkeypatch):
    (tmp_path / "out.parquet").mkdir()
    (tmp_path / "out.parquet" / "part-000000.parquet").write_text("previous")

    class Shifted(ray_engine.OrderedFileSink):  # defined here, so pickled by value to the write tasks
        def write(self, blocks, ctx):  # as if Ray numbered the write tasks from 1
            task, rows, errors = super().write(blocks, ctx)
            return task + 1, rows, errors

    monkeypatch.setattr(ray_engine, "OrderedFileSink", Shifted)
    with pytest.raises(BatchError, match="the output was not written"):
        ray_engine.answer_with_ray(bundle, source[0], tmp_path / "out.parquet", workers=1)
    assert listing(tmp_path) == [("out.parquet/part-000000.parquet", b"previous")]


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


def test_a_refused_bundle_stops_the_job_in_the_driver(make_bundle, make_keys, signed_bundle, tmp_path):
    from rnnqa.errors import BundleError

    source = tmp_path / "in.csv"
    source.write_text("question\nWhat is the capital of Peru?\n")
    with pytest.raises(BundleError, match="not signed"):  # from the driver, with the reason
        ray_engine.answer_with_ray(make_bundle("gru"), source, tmp_path / "out.parquet", public_key=make_keys()[1])
    assert not (tmp_path / "out.parquet").exists()
    answerer = BatchAnswerer(signed_bundle, public_key=make_keys()[1])  # what each actor builds
    assert answerer.model.bundle.signed_by


def test_a_default_run_prints_only_its_summary(bundle, tmp_path):
    """No line per actor from Ray (max_restarts, ray#53727) and no deprecation warning: a user sees the summary."""
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "in.csv").write_text("question\nWhat is the capital of Peru?\nWho wrote 'Hamlet'?\n")
    result = subprocess.run([str(Path(sys.executable).parent / "qa-ask"), "--bundle", str(bundle), "--input",
                             str(tmp_path / "in.csv"), "--output", str(tmp_path / "out"), "--engine", "ray",
                             "--workers", "2"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines() == [f"2 row(s) answered, 0 with errors → {tmp_path / 'out'}"]
