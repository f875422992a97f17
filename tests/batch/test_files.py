"""qa-ask --input/--output: stored questions in CSV, JSON Lines and Parquet, answered a chunk at a time."""

import csv
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from rnnqa.errors import BatchError
from rnnqa.batch import files as stored
from rnnqa.runtime import QAModel
from rnnqa.ask.cli import main
from rnnqa.batch.files import answer_file

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

QUESTIONS = ["What is the capital of Peru?", "", "Who wrote 'Hamlet'?", "???", "What is the capital of France?"]


@pytest.fixture(scope="module")
def bundle(make_bundle):
    return make_bundle("gru", epochs=30)


@pytest.fixture(scope="module")
def model(bundle):
    return QAModel.load(bundle)


def expected(model, questions):
    """answer_batch on the good rows; None where the question is bad."""
    good = [q for q in questions if isinstance(q, str) and q.strip("?")]
    answers = iter(model.answer_batch(good))
    return [next(answers) if isinstance(q, str) and q.strip("?") else None for q in questions]


def write_csv(path, rows, header=("id", "question", "note")):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        out.writerows(rows)
    return path


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def check_answers(model, questions, answers, confidences, knowns, errors):
    for want, answer, confidence, known, error in zip(expected(model, questions), answers, confidences, knowns,
                                                      errors):
        if want is None:
            assert answer is None and confidence is None and known is None and error
        else:
            assert (answer, confidence, known, error) == (want.text, want.confidence, want.known, None)


def test_csv_round_trip_matches_answer_batch_and_keeps_columns(model, tmp_path):
    rows = [(f"{i:03d}", q, f"note {i}") for i, q in enumerate(QUESTIONS * 3)]
    summary = answer_file(model, write_csv(tmp_path / "in.csv", rows), tmp_path / "out.csv", batch_size=4)
    out = read_csv(tmp_path / "out.csv")
    assert list(out[0]) == ["id", "question", "note", "answer", "confidence", "known", "error"]
    assert [(r["id"], r["question"], r["note"]) for r in out] == rows  # passed through, in order, as text
    blank = lambda v: v or None  # noqa: E731 — CSV has no null: an empty cell
    check_answers(model, [r[1] for r in rows], [blank(r["answer"]) for r in out],
                  [float(r["confidence"]) if r["confidence"] else None for r in out],
                  [{"true": True, "false": False}.get(r["known"]) for r in out], [blank(r["error"]) for r in out])
    assert (summary.rows, summary.errors) == (15, 6)
    assert out[1]["error"] == "question is empty" and out[3]["error"] == "question has no words"


def test_ragged_csv_rows_and_blank_lines(model, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("id,question\n1,What is the capital of Peru?\n\n2,a,b\n3\n4,Who wrote 'Hamlet'?\n")
    summary = answer_file(model, path, tmp_path / "out.csv")
    out = read_csv(tmp_path / "out.csv")
    assert [r["id"] for r in out] == ["1", "2", "3", "4"]
    assert out[1]["error"] == "has 3 field(s); the header has 2" and out[1]["answer"] == ""
    assert out[2]["error"] == "has 1 field(s); the header has 2"
    assert out[0]["answer"] == "Lima" and out[3]["answer"] == "William Shakespeare"
    assert (summary.rows, summary.errors) == (4, 2)


def test_a_csv_row_that_is_not_utf8_is_an_error_row(model, tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(b"id,question\n1,What is the capital of Peru?\n2,caf\xff?\n3,Who wrote 'Hamlet'?\n"
                     b"4,\xc3\xa9t\xc3\xa9\n")
    summary = answer_file(model, path, tmp_path / "out.csv", batch_size=2)
    out = read_csv(tmp_path / "out.csv")
    assert [r["id"] for r in out] == ["1", "2", "3", "4"]
    assert out[1]["error"] == "not valid UTF-8" and out[1]["question"] == "caf\ufffd?" and out[1]["answer"] == ""
    assert out[0]["answer"] == "Lima" and out[2]["answer"] == "William Shakespeare" and out[3]["question"] == "été"
    assert out[3]["error"] == "" and (summary.rows, summary.errors) == (4, 1)  # valid UTF-8 beyond ASCII
    path.write_bytes(b"id,qu\xffestion\n1,x\n")
    with pytest.raises(BatchError, match="the header row is not valid UTF-8"):
        answer_file(model, path, tmp_path / "out2.csv")


def test_a_huge_csv_field_is_read_and_the_field_limit_put_back(model, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(f"id,question,note\n1,What is the capital of Peru?,{'x' * 200_000}\n2,{'peru ' * 50_000},\n")
    limit = csv.field_size_limit()
    summary = answer_file(model, path, tmp_path / "out.jsonl")
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert out[0]["answer"] == "Lima" and len(out[0]["note"]) == 200_000
    assert out[1]["error"] is None and out[1]["answer"]  # cut to max_len tokens by the tokenizer, answered
    assert summary.errors == 0 and csv.field_size_limit() == limit


def test_a_csv_error_names_the_right_line(model, tmp_path, monkeypatch):
    from rnnqa.batch import table_io

    monkeypatch.setattr(table_io, "CSV_FIELD_LIMIT", 40)
    path = tmp_path / "in.csv"
    path.write_text('id,question\n1,"What is the\ncapital of Peru?"\n\n2,ok\n3,' + "x" * 50 + "\n4,ok\n")
    with pytest.raises(BatchError, match=r"in\.csv: line 6: field larger than field limit \(40\)"):
        answer_file(model, path, tmp_path / "out.csv", batch_size=2)


def test_jsonl_round_trip_keeps_types_and_reports_bad_lines(model, tmp_path):
    lines = [json.dumps({"id": i, "question": q, "meta": {"n": i}}) for i, q in enumerate(QUESTIONS)]
    lines += ["{not json", "[1, 2]", "", json.dumps({"id": 9, "question": 42}), json.dumps({"id": 10}),
              json.dumps({"id": 11, "question": "What is the capital of Peru?", "surprise": 1})]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    summary = answer_file(model, tmp_path / "in.jsonl", tmp_path / "out.ndjson", batch_size=3)
    out = [json.loads(line) for line in (tmp_path / "out.ndjson").read_text().splitlines()]
    assert len(out) == 10  # the blank line is skipped
    assert list(out[0]) == ["id", "question", "meta", "surprise", "answer", "confidence", "known", "error"]
    assert [r["meta"] for r in out[:5]] == [{"n": i} for i in range(5)] and out[0]["id"] == 0
    check_answers(model, QUESTIONS, *([r[k] for r in out[:5]] for k in ("answer", "confidence", "known", "error")))
    assert out[5]["error"].startswith("not valid JSON") and out[5]["id"] is None
    assert out[6]["error"] == "not a JSON object but an array"
    assert out[7]["error"] == "question must be text, got int" and out[7]["id"] == 9
    assert out[8]["error"] == "question must be text, got nothing (a missing value)"
    assert out[9]["answer"] == "Lima" and out[9]["surprise"] == 1 and out[9]["error"] is None
    assert [r["surprise"] for r in out[:9]] == [None] * 9
    assert (summary.rows, summary.errors) == (10, 6)


def test_jsonl_columns_are_every_key_in_order_of_first_appearance(model, tmp_path):
    records = [{"question": "What is the capital of Peru?"}] * 5 + [
        {"id": 6, "question": "Who wrote 'Hamlet'?", "lang": "en"}, {"lang": "fr", "question": "???", "x": None}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    summary = answer_file(model, tmp_path / "in.jsonl", tmp_path / "out.csv", batch_size=2)  # keys after chunk 1
    out = read_csv(tmp_path / "out.csv")
    assert list(out[0]) == ["question", "id", "lang", "x", "answer", "confidence", "known", "error"]
    assert [(r["id"], r["lang"]) for r in out] == [("", "")] * 5 + [("6", "en"), ("", "fr")]
    assert [r["answer"] for r in out] == ["Lima"] * 5 + ["William Shakespeare", ""]
    assert (summary.rows, summary.errors) == (7, 1) and out[6]["error"] == "question has no words"
    (tmp_path / "late.jsonl").write_text('{"id": 1, "question": "x"}\n{"id": 2, "answer": "y"}\n')
    with pytest.raises(BatchError, match="already has column\\(s\\) answer"):  # a clash on any line, not just the first
        answer_file(model, tmp_path / "late.jsonl", tmp_path / "o.csv")
    (tmp_path / "empty.jsonl").write_text("{}\n[1]\n")
    with pytest.raises(BatchError, match=r"no 'question' column \(columns: none\)"):
        answer_file(model, tmp_path / "empty.jsonl", tmp_path / "o.csv")


def test_parquet_round_trip_keeps_types_and_metadata(model, tmp_path):
    n = 50
    questions = [QUESTIONS[i % 5] if i % 7 else None for i in range(n)]
    table = pa.table({"id": pa.array(range(n), pa.int32()), "question": questions,
                      "when": pa.array([i * 1000 for i in range(n)], pa.timestamp("ms")),
                      "tags": [[i, i + 1] for i in range(n)]}).replace_schema_metadata({b"origin": b"test"})
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=16)
    summary = answer_file(model, tmp_path / "in.parquet", tmp_path / "out.parquet", batch_size=10)
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.schema.names == ["id", "question", "when", "tags", "answer", "confidence", "known", "error"]
    assert out.select(["id", "question", "when", "tags"]).equals(table)
    assert out.schema.metadata[b"origin"] == b"test"
    assert [str(t) for t in out.schema.types[4:]] == ["string", "double", "bool", "string"]
    check_answers(model, questions, *(out[k].to_pylist() for k in ("answer", "confidence", "known", "error")))
    assert summary.errors == sum(1 for q in questions if q is None or not q.strip("?"))


def test_csv_to_parquet_and_parquet_to_csv(model, tmp_path):
    rows = [(str(i), q, "x") for i, q in enumerate(QUESTIONS)]
    answer_file(model, write_csv(tmp_path / "in.csv", rows), tmp_path / "a.parquet")
    table = pq.read_table(tmp_path / "a.parquet")
    assert table["id"].type == pa.string() and table["id"].to_pylist() == [r[0] for r in rows]
    check_answers(model, QUESTIONS, *(table[k].to_pylist() for k in ("answer", "confidence", "known", "error")))
    pq.write_table(table.drop_columns(["answer", "confidence", "known", "error"]), tmp_path / "b.parquet")
    answer_file(model, tmp_path / "b.parquet", tmp_path / "b.csv")
    back = read_csv(tmp_path / "b.csv")
    assert [r["question"] for r in back] == QUESTIONS and back[0]["answer"] == "Lima" and back[0]["known"] == "true"


def test_jsonl_to_parquet_types_come_from_the_whole_file(model, tmp_path):
    """A later chunk never meets a type it does not fit: each column's type is what its values hold in the
    whole file (ints and floats → float64, other mixes → text with JSON text for non-strings), never data lost."""
    records = [{"id": 1, "score": 1, "flag": True, "question": "What is the capital of Peru?"},
               {"id": 2, "score": 2, "flag": False, "question": "Who wrote 'Hamlet'?"},
               {"id": "three", "score": 2.5, "flag": None, "late": {"a": [1]}, "question": "What is the capital of Peru?"},
               {"id": 2**70, "score": None, "flag": True, "question": "Who wrote 'Hamlet'?"}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    summary = answer_file(model, tmp_path / "in.jsonl", tmp_path / "out.parquet", batch_size=2)
    table = pq.read_table(tmp_path / "out.parquet")
    assert [str(table.schema.field(c).type) for c in ("id", "score", "flag", "late")] == ["string", "double", "bool", "string"]
    out = table.to_pylist()
    assert [r["id"] for r in out] == ["1", "2", "three", str(2**70)]
    assert [r["score"] for r in out] == [1.0, 2.0, 2.5, None] and [r["flag"] for r in out] == [True, False, None, True]
    assert [r["late"] for r in out] == [None, None, '{"a": [1]}', None]  # an object first seen late: its JSON text
    assert summary.errors == 0 and [r["answer"] for r in out][0] == "Lima"


def test_jsonl_to_parquet_an_array_that_does_not_fit_the_first_rows_stops_the_job_naming_its_row(model, tmp_path):
    records = [{"tags": [1, 2], "question": "What is the capital of Peru?"}, {"tags": [3], "question": "Who wrote 'Hamlet'?"},
               {"tags": ["x"], "question": "What is the capital of Peru?"}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (tmp_path / "out.parquet").write_bytes(b"previous")
    with pytest.raises(BatchError, match=r"row 3: column 'tags': \['x'\] does not fit list<item: int64>"):
        answer_file(model, tmp_path / "in.jsonl", tmp_path / "out.parquet", batch_size=2)
    assert (tmp_path / "out.parquet").read_bytes() == b"previous"


def test_missing_question_column_and_clashing_columns_are_refused(model, tmp_path):
    with pytest.raises(BatchError, match=r"in\.csv: no 'question' column \(columns: id, text\)"):
        answer_file(model, write_csv(tmp_path / "in.csv", [("1", "x")], header=("id", "text")), tmp_path / "o.csv")
    with pytest.raises(BatchError, match="already has column\\(s\\) answer"):
        answer_file(model, write_csv(tmp_path / "in2.csv", [("1", "x")], header=("question", "answer")),
                    tmp_path / "o.csv")
    (tmp_path / "in.jsonl").write_text('{"text": "x"}\n')
    with pytest.raises(BatchError, match="no 'question' column"):
        answer_file(model, tmp_path / "in.jsonl", tmp_path / "o.csv")
    assert not (tmp_path / "o.csv").exists()


def test_refuses_bad_paths(model, tmp_path):
    path = write_csv(tmp_path / "in.csv", [("1", "q", "n")])
    with pytest.raises(BatchError, match="overwrite the input"):
        answer_file(model, path, tmp_path / "." / "in.csv")
    with pytest.raises(BatchError, match="cannot tell the format"):
        answer_file(model, path, tmp_path / "out.txt")
    with pytest.raises(BatchError, match="cannot read"):
        answer_file(model, tmp_path / "missing.csv", tmp_path / "out.csv")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(BatchError, match="cannot read as Parquet"):
        answer_file(model, tmp_path / "bad.parquet", tmp_path / "out.csv")


class Boom(Exception):
    pass


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_failure_mid_way_keeps_the_previous_output_and_leaves_no_temp_file(model, tmp_path, monkeypatch, fmt):
    source = write_csv(tmp_path / "in.csv", [(str(i), "What is the capital of Peru?", "") for i in range(100)])
    out = tmp_path / f"out.{fmt}"
    out.write_bytes(b"previous")
    calls = []

    def failing(model, chunk):
        calls.append(1)
        if len(calls) == 3:
            raise Boom()
        return real(model, chunk)

    real = stored._answer
    monkeypatch.setattr(stored, "_answer", failing)
    with pytest.raises(Boom):
        answer_file(model, source, out, batch_size=10)
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", f"out.{fmt}"]


def test_keyboard_interrupt_removes_the_temp_file(model, tmp_path):
    source = write_csv(tmp_path / "in.csv", [(str(i), "q", "") for i in range(30)])

    def interrupt(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        answer_file(model, source, tmp_path / "out.csv", batch_size=10, progress=interrupt)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_progress_reports_bytes_up_to_the_file_size(model, tmp_path):
    source = write_csv(tmp_path / "in.csv", [(str(i), "What is the capital of Peru?", "") for i in range(3000)])
    seen = []
    answer_file(model, source, tmp_path / "out.csv", batch_size=1000, progress=lambda d, t: seen.append((d, t)))
    assert len(seen) == 3 and seen[-1] == (source.stat().st_size,) * 2


def test_cli_end_to_end(bundle, tmp_path):
    source = write_csv(tmp_path / "in.csv", [("1", "What is the capital of Peru?", ""), ("2", "Who wrote 'Hamlet'?", "")])
    result = CliRunner().invoke(main, ["--bundle", str(bundle), "--input", str(source), "--output",
                                       str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0, result.output
    assert result.stderr.strip().startswith("2 row(s) answered, 0 with errors")
    assert [json.loads(line)["answer"] for line in (tmp_path / "out.jsonl").read_text().splitlines()] == [
        "Lima", "William Shakespeare"]
    bad = write_csv(tmp_path / "bad.csv", [("1", "What is the capital of Peru?", ""), ("2", "", "")])
    result = CliRunner().invoke(main, ["--bundle", str(bundle), "--input", str(bad), "--output", str(tmp_path / "o.csv")])
    assert result.exit_code == 1 and "1 row(s) answered, 1 with errors" in result.stderr
    result = CliRunner().invoke(main, ["--bundle", str(bundle), "--input", str(tmp_path / "o.csv"), "--output",
                                       str(tmp_path / "o2.csv")])
    assert result.exit_code == 1 and result.stderr.startswith("error: ") and "already has column(s)" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--input", "a.csv"], "--input needs --output"),
    (["--output", "a.csv"], "--output needs --input"),
    (["--input", "a.csv", "--output", "b.csv", "q"], "not both"),
    (["--input", "a.csv", "--output", "b.csv", "--json"], "--json"),
    (["--input", "a.csv", "--output", "b.csv", "--workers", "2"], "--engine ray"),
])
def test_cli_usage_errors(bundle, args, message):
    result = CliRunner().invoke(main, ["--bundle", str(bundle), *args])
    assert result.exit_code == 2 and message in result.output


PEAK_RSS = """
import resource, sys
from rnnqa.batch.files import answer_file
answer_file(sys.argv[1], sys.argv[2], sys.argv[3])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss_kib(bundle, source, output) -> int:
    run = subprocess.run([sys.executable, "-c", PEAK_RSS, str(bundle), str(source), str(output)],
                         capture_output=True, text=True, check=True)
    return int(run.stdout.split()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_memory_stays_flat_on_a_million_rows(bundle, tmp_path, fmt):
    questions = ["What is the capital of Peru?", "Who wrote 'Hamlet'?", "How many keys does a piano have?"]
    peaks = {}
    for n in (100_000, 1_000_000):
        source = tmp_path / f"in{n}.{fmt}"
        if fmt == "csv":
            with open(source, "w", newline="") as fh:
                fh.write("id,question\n")
                fh.writelines(f"{i},{questions[i % 3]}\n" for i in range(n))
        else:
            pq.write_table(pa.table({"id": range(n), "question": [questions[i % 3] for i in range(n)]}), source,
                           row_group_size=65536)
        peaks[n] = peak_rss_kib(bundle, source, tmp_path / f"out{n}.{fmt}")
        out_rows = pq.ParquetFile(tmp_path / f"out{n}.{fmt}").metadata.num_rows if fmt == "parquet" else sum(
            1 for _ in open(tmp_path / f"out{n}.{fmt}")) - 1
        assert out_rows == n
    assert peaks[1_000_000] < peaks[100_000] * 1.15 + 20_000, peaks  # KiB: within 15% + 20 MB


def test_importing_the_runtime_cli_does_not_import_the_batch_package():
    code = "import sys, rnnqa.ask.cli; print(sorted(m for m in sys.modules if m.startswith('rnnqa.batch')))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def test_the_cli_restates_the_batch_defaults_exactly():
    from rnnqa.batch import table_io
    from rnnqa.ask import cli

    assert cli.FORMATS == table_io.FORMATS and cli.DEFAULT_BATCH_SIZE == stored.DEFAULT_BATCH_SIZE


def test_the_runtime_help_lists_the_batch_options():
    result = CliRunner().invoke(main, ["--help"])
    assert all(option in result.output for option in ("--input", "--output", "--engine", "--workers", "--address"))


def test_docs_example_for_pandas_works(model):
    pd = pytest.importorskip("pandas")
    from rnnqa.batch.column import answer_column

    frame = pd.DataFrame({"id": [1, 2], "question": ["What is the capital of Peru?", None]})
    frame = frame.assign(**answer_column(model, frame["question"]))
    assert frame["answer"].tolist()[0] == "Lima" and frame["error"].tolist()[1].startswith("question must be text")


def test_parquet_without_pyarrow_says_what_to_install(model, tmp_path, monkeypatch):
    source = write_csv(tmp_path / "in.csv", [("1", "q", "")])
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(BatchError, match=r"pip install 'rnnqa\[ray\]'"):
        answer_file(model, source, tmp_path / "out.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_engine_ray_without_ray_says_what_to_install(bundle, tmp_path, monkeypatch):
    source = write_csv(tmp_path / "in.csv", [("1", "q", "")])
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.delitem(sys.modules, "rnnqa.batch.ray_engine", raising=False)
    result = CliRunner().invoke(main, ["--bundle", str(bundle), "--input", str(source), "--output",
                                       str(tmp_path / "out.parquet"), "--engine", "ray"])
    assert result.exit_code == 1 and "needs Ray Data: pip install 'rnnqa[ray]'" in result.stderr
