"""The one-shot path (rnnqa.runtime.one_shot over rnnqa.runtime.capi) answers as QAModel, checks as QAModel, and
leaves every bundle it cannot take to QAModel."""

from __future__ import annotations

import ctypes
import math
import shutil
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from rnnqa.ask.lean import main
from rnnqa.bundle_format import GATE_FILE, ONNX_FILE, SINGLE_FILE
from rnnqa.errors import BundleError, QuestionError, QuestionTypeError
from rnnqa.runtime import QAModel, capi, one_shot
from rnnqa.runtime.answer import Answer
from rnnqa.runtime.bundle import load_checked
from rnnqa.runtime.one_shot import OneShotModel, best
from rnnqa.runtime.signature import PUBLIC_KEY_ENV
from tests.runtime.test_bundle import edit_json, rehash
from tests.runtime.test_single_path import as_format_4, questions

api = capi.load_api()
needs_api = pytest.mark.skipif(api is None, reason="no onnxruntime C library in this onnxruntime wheel")
QUESTION = "What is the capital of Peru?"


@pytest.fixture
def bundle(make_bundle, tmp_path):
    path = tmp_path / "bundle"
    shutil.copytree(make_bundle("gru"), path)
    return path


def served(bundle) -> OneShotModel | None:
    return OneShotModel.serve(load_checked(bundle)[0])


def same_answers(model: OneShotModel, reference: QAModel) -> int:
    texts = questions(reference)
    for text in texts:
        got, want = model.answer(text), reference.answer(text)
        assert type(got) is Answer and got == want, text  # text, known and the very same confidence
    return len(texts)


@needs_api
def test_the_one_shot_path_answers_exactly_as_qamodel(bundle):
    model, reference = served(bundle), QAModel.load(bundle)
    assert model is not None and reference._state.gate is not None  # the gate is applied on this path too
    assert same_answers(model, reference) > 300
    for bad, error in (("", QuestionError), ("  ?  ", QuestionError), (5, QuestionTypeError)):
        with pytest.raises(error) as got:
            model.answer(bad)
        with pytest.raises(error) as want:
            reference.answer(bad)
        assert str(got.value) == str(want.value)


@needs_api
def test_a_format_4_bundle_answers_on_its_own_graph(bundle):
    as_format_4(bundle)
    model = served(bundle)
    assert model is not None and model._outputs[0][0] == "answer_index"
    assert same_answers(model, QAModel.load(bundle)) > 300


@needs_api
def test_every_length_of_row_answers_as_qamodel(bundle):
    model, reference = served(bundle), QAModel.load(bundle)
    words = [w for w in reference.vocab.tokens[2:] if w.isalpha()][: reference.max_len + 3]
    lengths = {1}  # the probe's
    for n in range(1, len(words) + 1):  # past max_len too: both cut the row
        text = " ".join(words[:n])
        assert model.answer(text) == reference.answer(text), n
        lengths.add(len(reference.encode(text)))
    assert set(model._bound) == lengths and max(lengths) == reference.max_len  # a binding per length, made once


def test_the_argmax_is_numpys_on_ties_and_nan():
    for values in ([0.2, 0.5, 0.5, 0.1], [0.5, 0.5], [0.0], [0.1, math.nan, 0.9, math.nan], [math.nan, 1.0]):
        array = (ctypes.c_float * len(values))(*values)
        index, value = best(array)
        want = np.array(values, np.float32)
        assert index == int(want.argmax())
        assert (math.isnan(value) and math.isnan(want[index])) or value == want.item(index)


def nan_bias(bundle, name: str, initializer: str) -> None:
    proto = onnx.load(str(bundle / name))
    (bias,) = [t for t in proto.graph.initializer if t.name == initializer]
    bias.CopyFrom(numpy_helper.from_array(np.full_like(numpy_helper.to_array(bias), np.nan), bias.name))
    (bundle / name).write_bytes(proto.SerializeToString())
    rehash(bundle, name)


@pytest.mark.parametrize("change", ["hash", "no_single", "disagrees", "not_loadable", "nan_probe", "no_api"])
def test_what_the_one_shot_path_does_not_take_qamodel_decides(bundle, change, monkeypatch, capfd):
    if change in ("disagrees", "not_loadable", "nan_probe") and api is None:
        pytest.skip("no onnxruntime C library in this onnxruntime wheel")
    calls = []
    monkeypatch.setattr(one_shot, "load_api", lambda: calls.append(1) or (None if change == "no_api" else api))
    if change == "hash":
        (bundle / ONNX_FILE).write_bytes((bundle / ONNX_FILE).read_bytes() + b"\0")
    elif change == "no_single":
        for name in (SINGLE_FILE, GATE_FILE):
            (bundle / name).unlink()
            edit_json(bundle / "manifest.json", lambda m, name=name: m["files"].pop(name))
    elif change == "nan_probe":  # model.onnx's probe logits are NaN: QAModel refuses "not a valid answer"
        nan_bias(bundle, ONNX_FILE, "model.head.bias")
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
    try:
        want = f"{QAModel.load(bundle).answer(QUESTION)}\n", "", 0
    except BundleError as exc:
        want = "", f"error: {exc}\n", 1
    capfd.readouterr()
    if change == "hash":
        with pytest.raises(BundleError):  # load_bundle's own error, raised before any session
            load_checked(bundle)
    else:
        assert served(bundle) is None
        assert len(calls) == (change != "no_single")  # no single graph: onnxruntime's library is not even loaded
    code = main(bundle, [QUESTION])
    out, err = capfd.readouterr()  # C-level writes to stderr too
    assert (out, err, code) == want


@needs_api
def test_a_signed_bundle_is_verified_on_this_path(signed_bundle, make_keys, monkeypatch, capfd):
    monkeypatch.setenv(PUBLIC_KEY_ENV, str(make_keys()[1]))
    bundle, key = load_checked(signed_bundle)
    model = OneShotModel.serve(bundle)
    assert model is not None and bundle.signed_by == key.fingerprint
    assert main(signed_bundle, [QUESTION]) == 0
    assert capfd.readouterr() == (f"{QAModel.load(signed_bundle).answer(QUESTION)}\n", "")
    monkeypatch.setenv(PUBLIC_KEY_ENV, str(make_keys("other")[1]))  # not the key it was signed with
    with pytest.raises(BundleError) as refused:
        QAModel.load(signed_bundle)
    with pytest.raises(BundleError):
        load_checked(signed_bundle)
    assert main(signed_bundle, [QUESTION]) == 1
    assert capfd.readouterr() == ("", f"error: {refused.value}\n")


@needs_api
def test_one_shot_qa_ask_imports_neither_numpy_nor_onnxruntime(bundle):
    code = ("import sys\nfrom rnnqa.ask.lean import main\nfrom pathlib import Path\n"
            f"code = main(Path({str(bundle)!r}), [{QUESTION!r}, 'zzz qqq'])\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'onnxruntime')), code)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    model = QAModel.load(bundle)
    assert out.stdout.splitlines() == [str(model.answer(QUESTION)), str(model.answer("zzz qqq")), "[] 0"]


@needs_api
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
    with pytest.raises(TypeError):
        session.bind([("input_ids", bytearray(16), [2, 1])], [])
    session.close()
    session.close()
    with pytest.raises(capi.OrtError, match="closed"):
        session.run(binding)


def test_without_the_library_there_is_no_api(monkeypatch):
    for path in (None, "/nonexistent/libonnxruntime.so"):
        monkeypatch.setattr(capi, "_api", False)
        monkeypatch.setattr(capi, "library_path", lambda path=path: path)
        assert capi.load_api() is None
