"""The JavaScript runtime and the browser page against Python: runs `node --test` on clients/js/test.

Python prepares what the JavaScript tests compare with: a bundle, and `qa-ask`'s own output (JSON,
plain, top-k, a bad bundle's error) for every training question and every question under quality/.
Without Node (or Chromium, for the page) these tests skip and say so; with RNNQA_REQUIRE_JS=1 (CI)
they fail instead, so a CI machine that lost Node cannot pass quietly.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rnnqa.data.table import default_dataset_path, load_qa_csv
from rnnqa.signing import sign_bundle
from tests.clients.node import ROOT, SCREENSHOTS, chromium, need_node, node_test
from tests.runtime.test_single_path import as_format_4

QA_ASK = Path(sys.executable).parent / "qa-ask"


def quality_questions() -> list[str]:
    questions = []
    for path in sorted((ROOT / "quality").glob("*.csv")):
        with open(path, encoding="utf-8", newline="") as fh:
            questions += [row["question"] for row in csv.DictReader(fh)]
    for path in sorted((ROOT / "quality").glob("*.txt")):
        questions += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return questions


def qa_ask(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(QA_ASK), *args], input=stdin, capture_output=True, text=True, encoding="utf-8")


@pytest.fixture(scope="module")
def cases(make_bundle, make_keys, tmp_path_factory) -> dict:
    need_node()
    bundle = make_bundle("gru", epochs=30)
    questions = load_qa_csv(default_dataset_path()).questions + quality_questions()
    questions += ["", "???", "Straße? ΟΔΟΣ", "What’s France's capital?", "東京 🇫🇷", "\u200b"]
    stdin = "\n".join(questions) + "\n"
    as_json, plain = qa_ask("--bundle", str(bundle), "--json", stdin=stdin), qa_ask("--bundle", str(bundle), stdin=stdin)
    top_k = qa_ask("--bundle", str(bundle), "--json", "--top-k", "3", *questions[:25])
    root = tmp_path_factory.mktemp("js")
    bad = root / "bad"
    shutil.copytree(bundle, bad)
    (bad / "model.onnx").write_bytes(b"x")
    bad_run = qa_ask("--bundle", str(bad), "hello")
    external = external_data_bundle(bundle, root / "external")
    format_4 = root / "format4"  # the single graph as format 4 wrote it: TopK's answer_index and confidence
    shutil.copytree(bundle, format_4)
    as_format_4(format_4)
    signed = root / "signed"  # without a key the JavaScript runtime loads it and does not read model.sig
    shutil.copytree(bundle, signed)
    if importlib.util.find_spec("model_signing") is not None:
        sign_bundle(signed, make_keys()[0])
    else:  # without the sign extra: a model.sig the runtime must allow and never read all the same
        (signed / "model.sig").write_text("{}")
    assert as_json.returncode == plain.returncode == 1 and top_k.returncode == 0 and bad_run.returncode == 1
    data = {
        "questions": questions,
        "python": {"json": as_json.stdout.splitlines(), "plain": plain.stdout.splitlines(),
                   "topk": top_k.stdout.splitlines(), "rc": as_json.returncode},
        "badBundle": {"dir": str(bad), "stderr": bad_run.stderr},
        "externalBundle": str(external),
        "format4Bundle": str(format_4),
        "signedBundle": str(signed),
    }
    assert len(data["python"]["json"]) == len(questions)
    path = root / "cases.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return {"RNNQA_BUNDLE": str(bundle), "RNNQA_CASES": str(path)}


def external_data_bundle(bundle: Path, out: Path) -> Path:
    """A copy of ``bundle`` whose graph keeps its weights in a file outside it, re-hashed: only the graph
    walk can refuse it."""
    import hashlib

    import onnx
    from onnx.external_data_helper import convert_model_to_external_data

    shutil.copytree(bundle, out)
    proto = onnx.load(str(out / "model.onnx"))
    convert_model_to_external_data(proto, all_tensors_to_one_file=True, location="../outside.bin", size_threshold=0)
    (out / "model.onnx").write_bytes(proto.SerializeToString())
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"]["model.onnx"] = hashlib.sha256((out / "model.onnx").read_bytes()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def test_node_runtime_agrees_with_python(cases):
    node_test(cases, "test/tokenizer.test.js", "test/model.test.js", "test/ortc.test.js", "test/cli.test.js",
              "test/spec.test.js")


def test_browser_page_agrees_with_python(cases):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "page-answer.png").unlink(missing_ok=True)  # the one checked below is this run's
    node_test({**cases, "RNNQA_CHROMIUM": chromium(), "RNNQA_SCREENSHOT_DIR": str(SCREENSHOTS)},
              "test/browser.test.js")
    assert (SCREENSHOTS / "page-answer.png").stat().st_size > 1000


def test_stdin_bytes_that_are_not_utf8_get_the_same_error_line_from_both(cases):
    """One rule for both qa-asks: a BOM at the start is skipped, a line that is not UTF-8 is an error line
    (exit 1 at the end), the lines around it are answered; CRLF ends a line like LF."""
    stdin = "\ufeffWhat is the capital of France?\r\n".encode() + b"caf\xe9\n" + b"\xff\xfe\nWho wrote Hamlet?"
    bundle = cases["RNNQA_BUNDLE"]
    for flags in ([], ["--json"]):
        python = subprocess.run([str(QA_ASK), "--bundle", bundle, *flags], input=stdin, capture_output=True,
                                timeout=120)
        node = subprocess.run(["node", "bin/qa-ask.js", "--bundle", bundle, *flags], input=stdin,
                              capture_output=True, timeout=120, cwd=ROOT / "clients" / "js")
        assert python.returncode == node.returncode == 1, (python.stderr, node.stderr)
        lines = python.stdout.decode().splitlines()
        assert len(lines) == 4 and node.stdout.decode().splitlines() == lines
        errors = [line for line in lines if "not valid UTF-8" in line]
        assert len(errors) == 2
        if flags:
            assert json.loads(errors[0]) == {"question": "caf\ufffd", "error": "not valid UTF-8"}
            assert "answer" in json.loads(lines[0]) and "answer" in json.loads(lines[3])
