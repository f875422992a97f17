import json
import shutil

import pytest
from click.testing import CliRunner

from rnnqa.ask.cli import main


@pytest.fixture(scope="module")
def bundle(make_bundle):
    return str(make_bundle("gru", epochs=30))


def ask(args, stdin=None):
    return CliRunner().invoke(main, args, input=stdin)


def test_answers_arguments_one_line_each(bundle):
    result = ask(["--bundle", bundle, "What is the capital of Peru?", "Who wrote 'Hamlet'?"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["Lima", "William Shakespeare"]


def test_low_confidence_prints_i_dont_know(bundle):
    result = ask(["--bundle", bundle, "--threshold", "1.0", "What is the capital of Peru?"])
    assert result.exit_code == 0 and result.output == "I don't know\n"


def test_json_output(bundle):
    result = ask(["--bundle", bundle, "--json", "What is the capital of Peru?"])
    record = json.loads(result.output)
    assert set(record) == {"question", "answer", "confidence", "known"}
    assert record["answer"] == "Lima" and record["known"] is True and 0.5 <= record["confidence"] <= 1


def test_top_k_plain_and_json(bundle):
    plain = ask(["--bundle", bundle, "--top-k", "3", "What is the capital of Peru?"])
    assert plain.exit_code == 0 and plain.output.startswith("Lima (") and plain.output.count(" | ") == 2
    record = json.loads(ask(["--bundle", bundle, "--top-k", "3", "--json", "What is the capital of Peru?"]).output)
    assert [t["answer"] for t in record["top_k"]][0] == "Lima" and len(record["top_k"]) == 3


def test_stdin_gives_exactly_one_line_per_input_line_and_keeps_going(bundle):
    stdin = "What is the capital of Peru?\n\n???\nWho wrote 'Hamlet'?\r\n"
    result = ask(["--bundle", bundle], stdin)
    assert result.exit_code == 1
    assert result.output.splitlines() == ["Lima", "error: question is empty", "error: question has no words",
                                          "William Shakespeare"]
    records = [json.loads(line) for line in ask(["--bundle", bundle, "--json"], stdin).output.splitlines()]
    assert [r.get("answer") for r in records] == ["Lima", None, None, "William Shakespeare"]
    assert records[1] == {"question": "", "error": "question is empty"}


def test_a_line_that_is_not_utf8_is_an_error_line_as_in_input(bundle, tmp_path):
    stdin = b"\xef\xbb\xbfWhat is the capital of Peru?\nWho \xff painted Guernica?\nWho wrote 'Hamlet'?\n"
    result = ask(["--bundle", bundle], stdin)
    assert result.exit_code == 1
    assert result.output.splitlines() == ["Lima", "error: not valid UTF-8", "William Shakespeare"]
    records = [json.loads(line) for line in ask(["--bundle", bundle, "--json"], stdin).output.splitlines()]
    assert records[1] == {"question": "Who \ufffd painted Guernica?", "error": "not valid UTF-8"}
    # --input reports the same row the same way
    table = tmp_path / "q.csv"
    table.write_bytes(b"question\n" + stdin.split(b"\n", 1)[1])
    stored = ask(["--bundle", bundle, "--input", str(table), "--output", str(tmp_path / "a.jsonl")])
    assert stored.exit_code == 1
    rows = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [r["error"] for r in rows] == ["not valid UTF-8", None]


def test_a_command_line_question_that_is_not_utf8_is_an_error_line(bundle):
    import os
    import subprocess
    import sys

    code = "import sys; from rnnqa.ask.cli import main; sys.argv[0] = 'qa-ask'; main()"
    done = subprocess.run([sys.executable, "-c", code, "--bundle", bundle, b"Who \xff painted Guernica?",
                           "What is the capital of Peru?"], capture_output=True, timeout=120,
                          env={**os.environ, "LC_ALL": "C.UTF-8"})
    assert done.returncode == 1, done.stderr
    assert done.stdout.decode().splitlines() == ["error: not valid UTF-8", "Lima"]


def test_bad_bundle_is_one_line_on_stderr(bundle, tmp_path):
    broken = tmp_path / "b"
    shutil.copytree(bundle, broken)
    (broken / "model.onnx").write_bytes(b"x")
    result = ask(["--bundle", str(broken), "hello"])
    assert result.exit_code == 1
    assert result.output == "error: model.onnx: sha256 mismatch — the bundle was modified or is incomplete\n"


def test_usage_errors_exit_2(bundle):
    for option, value in (("--top-k", "0"), ("--threshold", "2")):
        result = ask(["--bundle", bundle, option, value, "q"])
        assert result.exit_code == 2 and f"Invalid value for '{option}'" in result.output, result.output
