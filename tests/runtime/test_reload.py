import shutil
import threading

import pytest

from rnnqa.errors import BundleError
from rnnqa.runtime import QAModel

Q = "What is the capital of Peru?"


def test_reload_swaps_to_a_new_valid_bundle(make_bundle, tmp_path):
    model = QAModel.load(make_bundle("gru", epochs=30))
    before = model.answer(Q)
    model.reload(make_bundle("rnn", epochs=30))
    after = model.answer(Q)
    assert model.bundle.manifest["model"]["cell"] == "rnn"
    assert after.text == "Lima" and after.confidence != before.confidence


@pytest.mark.parametrize("damage, reason", [("flip-onnx-byte", "model.onnx: sha256 mismatch"),
                                            ("delete-vocab", "vocab.json: missing"),
                                            ("not-a-dir", "not a bundle directory")])
def test_corrupt_new_bundle_leaves_the_old_model_serving(make_bundle, tmp_path, damage, reason):
    model = QAModel.load(make_bundle("gru", epochs=30))
    before = model.answer(Q)
    broken = tmp_path / "broken"
    shutil.copytree(make_bundle("rnn", epochs=30), broken)
    if damage == "flip-onnx-byte":
        data = bytearray((broken / "model.onnx").read_bytes())
        data[100] ^= 0xFF
        (broken / "model.onnx").write_bytes(bytes(data))
    elif damage == "delete-vocab":
        (broken / "vocab.json").unlink()
    else:
        shutil.rmtree(broken)
    with pytest.raises(BundleError, match=reason):
        model.reload(broken)
    assert model.answer(Q) == before and model.bundle.manifest["model"]["cell"] == "gru"


def test_reload_in_place_rereads_the_same_directory(make_bundle, tmp_path):
    path = tmp_path / "live"
    shutil.copytree(make_bundle("gru", epochs=30), path)
    model = QAModel.load(path)
    shutil.rmtree(path)
    shutil.copytree(make_bundle("lstm", epochs=30), path)
    model.reload()
    assert model.bundle.manifest["model"]["cell"] == "lstm"


def test_answers_during_reloads_always_come_from_one_whole_bundle(make_bundle):
    a, b = make_bundle("gru", epochs=30), make_bundle("rnn", epochs=30)
    expected = {QAModel.load(p).answer(Q) for p in (a, b)}
    model, stop, seen, errors = QAModel.load(a), threading.Event(), set(), []

    def ask():
        while not stop.is_set():
            try:
                seen.add(model.answer(Q))
            except Exception as exc:  # noqa: BLE001 - any error at all fails the test
                errors.append(exc)

    workers = [threading.Thread(target=ask) for _ in range(4)]
    for w in workers:
        w.start()
    for i in range(10):
        model.reload(b if i % 2 == 0 else a)
    stop.set()
    for w in workers:
        w.join()
    assert not errors and seen <= expected


def test_a_pinned_view_keeps_its_bundle_through_a_reload(make_bundle):
    model = QAModel.load(make_bundle("gru", epochs=30))
    pinned = model.pinned()
    before = pinned.answer(Q)
    model.reload(make_bundle("rnn", epochs=30))
    assert pinned.bundle.manifest["model"]["cell"] == "gru" and model.bundle.manifest["model"]["cell"] == "rnn"
    assert pinned.answer(Q) == before and model.answer(Q) != before
