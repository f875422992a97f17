"""The one-shot path (rnnqa.runtime.one_shot over rnnqa.runtime.capi) answers as QAModel, checks as QAModel, and
leaves every bundle it cannot take to QAModel."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import sys

import onnx
import pytest
from onnx import numpy_helper

from rnnqa.ask.lean import main
from rnnqa.bundle_format import GATE_FILE, ONNX_FILE, SINGLE_FILE
from rnnqa.errors import BundleError, QuestionError, QuestionTypeError
from rnnqa.runtime import QAModel, capi
from rnnqa.runtime.answer import Answer
from rnnqa.runtime.one_shot import OneShotModel
from tests.runtime.test_bundle import edit_json, rehash
from tests.runtime.test_single_path import as_format_4, questions

api = capi.load_api()
pytestmark = pytest.mark.skipif(api is None, reason="no onnxruntime C library in this onnxruntime wheel")


@pytest.fixture
def bundle(make_bundle, tmp_path):
    path = tmp_path / "bundle"
    shutil.copytree(make_bundle("gru"), path)
    return path


def same_answers(one_shot: OneShotModel, model: QAModel) -> int:
    texts = questions(model)
    for text in texts:
        got, want = one_shot.answer(text), model.answer(text)
        assert type(got) is Answer and got == want, text  # text, known and the very same confidence
    return len(texts)


def test_the_one_shot_path_answers_exactly_as_qamodel(bundle):
    one_shot, model = OneShotModel.open(bundle), QAModel.load(bundle)
    assert one_shot is not None and model._state.gate is not None  # the gate is applied on this path too
    assert same_answers(one_shot, model) > 300
    for bad, error in (("", QuestionError), ("  ?  ", QuestionError), (5, QuestionTypeError)):
        with pytest.raises(error) as got:
            one_shot.answer(bad)
        with pytest.raises(error) as want:
            model.answer(bad)
        assert str(got.value) == str(want.value)


def test_a_format_4_bundle_answers_on_its_own_graph(bundle):
    as_format_4(bundle)
    one_shot = OneShotModel.open(bundle)
    assert one_shot is not None and one_shot._outputs[0][0] == "answer_index"
    assert same_answers(one_shot, QAModel.load(bundle)) > 300


def test_every_length_of_row_answers_as_qamodel(bundle):
    one_shot, model = OneShotModel.open(bundle), QAModel.load(bundle)
    words = [w for w in model.vocab.tokens[2:] if w.isalpha()][: model.max_len + 3]
    lengths = {1}  # the probe's
    for n in range(1, len(words) + 1):  # past max_len too: both cut the row
        text = " ".join(words[:n])
        assert one_shot.answer(text) == model.answer(text), n
        lengths.add(len(model.encode(text)))
    assert set(one_shot._bound) == lengths and max(lengths) == model.max_len  # a binding per length, made once


@pytest.mark.parametrize("change", ["hash", "no_single", "disagrees", "not_loadable", "no_api"])
def test_what_the_one_shot_path_does_not_take_qamodel_decides(bundle, change, monkeypatch, capsys):
    if change == "hash":
        (bundle / ONNX_FILE).write_bytes((bundle / ONNX_FILE).read_bytes() + b"\0")
    elif change == "no_single":
        for name in (SINGLE_FILE, GATE_FILE):
            (bundle / name).unlink()
            edit_json(bundle / "manifest.json", lambda m, name=name: m["files"].pop(name))
    elif change in ("disagrees", "not_loadable"):  # rehashed: only the probe, or onnxruntime, can tell
        proto = onnx.load(str(bundle / SINGLE_FILE))
        if change == "disagrees":
            (bias,) = [t for t in proto.graph.initializer if t.name == "head_bias"]
            values = numpy_helper.to_array(bias).copy()
            values[0] += 100.0
            bias.CopyFrom(numpy_helper.from_array(values, bias.name))
        else:
            proto.graph.node[1].op_type = "GRUX"
        (bundle / SINGLE_FILE).write_bytes(proto.SerializeToString())
        rehash(bundle, SINGLE_FILE)
    else:
        monkeypatch.setattr(capi, "_api", None)
    try:
        QAModel.load(bundle)
        want = None
    except BundleError as exc:
        want = f"error: {exc}\n"
    if change == "hash":
        with pytest.raises(BundleError):  # load_bundle's own error, raised before any session
            OneShotModel.open(bundle)
    else:
        assert OneShotModel.open(bundle) is None
    code = main(bundle, ["What is the capital of Peru?"])
    out, err = capsys.readouterr()
    if want is None:  # QAModel answers it, so qa-ask does
        assert (code, err) == (0, "") and out == str(QAModel.load(bundle).answer("What is the capital of Peru?")) + "\n"
    else:
        assert (code, out, err) == (1, "", want)


def test_one_shot_qa_ask_imports_neither_numpy_nor_onnxruntime(bundle):
    code = ("import sys\nfrom rnnqa.ask.lean import main\nfrom pathlib import Path\n"
            f"code = main(Path({str(bundle)!r}), ['What is the capital of Peru?', 'zzz qqq'])\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'onnxruntime')), code)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    model = QAModel.load(bundle)
    want = [str(model.answer("What is the capital of Peru?")), str(model.answer("zzz qqq")), "[] 0"]
    assert out.stdout.splitlines() == want


def test_a_session_refuses_what_onnxruntime_refuses_and_closes_once(bundle):
    with pytest.raises(capi.OrtError):
        capi.Session(api, b"not an onnx graph")
    session = capi.Session(api, (bundle / SINGLE_FILE).read_bytes())
    ids = session.buffer("int64", 4)
    view = (ctypes.c_int64 * 2).from_buffer(ids)
    wrong = session.buffer("float32", 3)  # not the graph's [1, answers]
    binding = session.bind([("input_ids", view, [2, 1])], [("probabilities", wrong, [1, 3])])
    with pytest.raises(capi.OrtError, match="probabilities"):
        session.run(binding)
    with pytest.raises(capi.OrtError):
        session.bind([("no_such_input", view, [2, 1])], [])
    session.close()
    session.close()
    with pytest.raises(capi.OrtError, match="closed"):
        session.run(binding)


def test_without_the_library_there_is_no_api(monkeypatch):
    monkeypatch.setattr(capi, "_api", False)
    monkeypatch.setattr(capi, "library_path", lambda: None)
    assert capi.load_api() is None
    monkeypatch.setattr(capi, "_api", False)
    monkeypatch.setattr(capi, "library_path", lambda: "/nonexistent/libonnxruntime.so")
    assert capi.load_api() is None
