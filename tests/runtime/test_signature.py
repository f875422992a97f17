"""Signed bundles at load: QAModel.load(public_key=...), reload() and $RNNQA_PUBLIC_KEY refuse a bundle whose
signature is missing, made with another key, or does not cover exactly the files present (issue #17)."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rnnqa.bundle_format import MANIFEST_FILE, ONNX_FILE, SIGNATURE_FILE, SINGLE_FILE
from rnnqa.errors import BundleError, ConfigError
from rnnqa.runtime import QAModel
from rnnqa.runtime.bundle import load_bundle
from rnnqa.runtime.signature import PUBLIC_KEY_ENV, load_public_key, verify_signature

pytest.importorskip("model_signing", reason="needs the sign extra: pip install 'rnnqa[sign]'")

QUESTION = "What is the capital of Peru?"
MODEL_SIGNING = Path(sys.executable).parent / "model_signing"


def copy(bundle: Path, tmp_path: Path, name: str = "copy") -> Path:
    out = tmp_path / name
    shutil.copytree(bundle, out)
    return out


def rehash(bundle: Path, name: str) -> None:
    """What someone who can write the bundle does after changing ``name``: update the manifest's sha256."""
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    manifest["files"][name] = hashlib.sha256((bundle / name).read_bytes()).hexdigest()
    (bundle / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))


def favour(bundle: Path, index: int) -> None:
    """The attack of issue #17: every output bias set to favour answer ``index`` (in both graphs: the runtime
    checks that they agree), the manifest re-hashed."""
    import onnx
    from onnx import numpy_helper

    for name in (ONNX_FILE, SINGLE_FILE):
        proto = onnx.load(str(bundle / name))
        (bias,) = [t for t in proto.graph.initializer if t.name.endswith(("head.bias", "head_bias"))]
        values = numpy_helper.to_array(bias).copy()
        values[index] = 100.0
        bias.CopyFrom(numpy_helper.from_array(values, bias.name))
        (bundle / name).write_bytes(proto.SerializeToString())
        rehash(bundle, name)


def refused(bundle: Path, public_key: Path, file: str, reason: str) -> BundleError:
    with pytest.raises(BundleError) as info:
        QAModel.load(bundle, public_key=public_key)
    assert (info.value.file, reason in info.value.reason) == (file, True), str(info.value)
    return info.value


def test_sign_then_verify_answers_as_the_unsigned_bundle(signed_bundle, make_bundle, make_keys):
    public = make_keys()[1]
    signed = QAModel.load(signed_bundle, public_key=public)
    unsigned = QAModel.load(make_bundle("gru"))
    assert signed.bundle.signed_by == load_public_key(public).fingerprint
    assert signed.answer(QUESTION) == unsigned.answer(QUESTION)
    assert QAModel.load(signed_bundle).bundle.signed_by is None  # without a key: loads as today, unchecked


def test_the_rehashed_attack_loads_without_a_key_and_is_refused_with_one(signed_bundle, make_keys, tmp_path):
    attacked = copy(signed_bundle, tmp_path)
    favour(attacked, 3)
    model = QAModel.load(attacked)  # the hashes cannot stop it
    answers = model.vocab.answers
    assert {model.answer(q).text for q in (QUESTION, "Who painted Guernica?", "hello")} == {answers[3]}
    refused(attacked, make_keys()[1], ONNX_FILE, "differs from the signed file")


@pytest.mark.parametrize("name", ["model.onnx", "model.torchscript.pt", "vocab.json", "conformance.json",
                                  "tokenizer.json", "tokenizer_config.json", "manifest.json", "model.sig"])
def test_a_changed_byte_in_any_file_is_refused(signed_bundle, make_keys, tmp_path, name):
    bundle = copy(signed_bundle, tmp_path)
    data = bytearray((bundle / name).read_bytes())
    if name == MANIFEST_FILE:  # a byte outside every sha256 (the first newline made a space): JSON unchanged
        data[data.index(b"\n")] = ord(" ")
        assert json.loads(data) == json.loads((signed_bundle / name).read_bytes())
    else:
        middle = len(data) // 2
        data[middle] = ord("0") if data[middle] != ord("0") else ord("1")  # stays UTF-8 and JSON-shaped
    (bundle / name).write_bytes(bytes(data))
    if name not in (MANIFEST_FILE, SIGNATURE_FILE):
        rehash(bundle, name)  # so only the signature can tell
    if name == SIGNATURE_FILE:
        refused(bundle, make_keys()[1], SIGNATURE_FILE, "does not verify")
    else:
        refused(bundle, make_keys()[1], name, "differs from the signed file")  # checked before it is parsed


def test_a_signature_from_another_key_is_refused(signed_bundle, make_keys, tmp_path):
    refused(signed_bundle, make_keys("other")[1], SIGNATURE_FILE, "made with another key")
    resigned = copy(signed_bundle, tmp_path)
    envelope = json.loads((resigned / SIGNATURE_FILE).read_text())
    envelope["verificationMaterial"]["publicKey"]["hint"] = load_public_key(make_keys("other")[1]).fingerprint
    (resigned / SIGNATURE_FILE).write_text(json.dumps(envelope))  # claims the other key: ECDSA still says no
    refused(resigned, make_keys("other")[1], SIGNATURE_FILE, "does not verify")


def test_a_changed_statement_under_the_old_signature_is_refused(signed_bundle, make_keys, tmp_path):
    bundle = copy(signed_bundle, tmp_path)
    favour(bundle, 5)
    envelope = json.loads((bundle / SIGNATURE_FILE).read_text())
    statement = json.loads(base64.b64decode(envelope["dsseEnvelope"]["payload"]))
    for resource in statement["predicate"]["resources"]:  # write the new digests into the signed statement
        resource["digest"] = hashlib.sha256((bundle / resource["name"]).read_bytes()).hexdigest()
    envelope["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    (bundle / SIGNATURE_FILE).write_text(json.dumps(envelope))
    refused(bundle, make_keys()[1], SIGNATURE_FILE, "does not verify")


def test_a_signature_copied_from_another_bundle_is_refused(signed_bundle, make_bundle, make_keys, tmp_path):
    other = copy(make_bundle("gru", epochs=30), tmp_path, "other")
    shutil.copy(signed_bundle / SIGNATURE_FILE, other / SIGNATURE_FILE)
    with pytest.raises(BundleError, match="differs from the signed file"):
        QAModel.load(other, public_key=make_keys()[1])


@pytest.mark.parametrize("keep", [0, 1, 100, -10])
def test_a_truncated_or_empty_signature_is_refused(signed_bundle, make_keys, tmp_path, keep):
    bundle = copy(signed_bundle, tmp_path)
    data = (bundle / SIGNATURE_FILE).read_bytes()
    (bundle / SIGNATURE_FILE).write_bytes(data[:keep])
    refused(bundle, make_keys()[1], SIGNATURE_FILE, "not a valid signature")


def test_a_signature_nested_too_deep_for_the_parser_is_refused(signed_bundle, make_keys, tmp_path):
    bundle = copy(signed_bundle, tmp_path)
    (bundle / SIGNATURE_FILE).write_text("[" * 200_000 + "]" * 200_000)  # under 1 MiB, deeper than any parser
    refused(bundle, make_keys()[1], SIGNATURE_FILE, "not a valid signature")


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "secp256k1"])
def test_a_key_of_another_algorithm_or_curve_is_a_config_error(tmp_path, kind):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    private = {"ed25519": lambda: ed25519.Ed25519PrivateKey.generate(),
               "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
               "secp256k1": lambda: ec.generate_private_key(ec.SECP256K1())}[kind]()
    key = tmp_path / f"{kind}.pub.pem"  # a public key cryptography reads, of a kind the verifier does not take
    key.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(ConfigError, match="not an ECDSA P-256, P-384 or P-521 public key"):
        load_public_key(key)


def test_a_malformed_key_of_an_unknown_algorithm_is_a_config_error(tmp_path):
    key = tmp_path / "odd.pub.pem"  # an X448 OID with a parameter X448 keys do not have
    key.write_text("-----BEGIN PUBLIC KEY-----\nMCwwBwYDK2VvBQADIQBDf+rnWY9BkHIaGtUzN2m3HlXYq0NvT6WUqsJ7aHBdOA==\n"
                   "-----END PUBLIC KEY-----\n")
    with pytest.raises(ConfigError, match="not a PEM public key"):
        load_public_key(key)


def test_an_unsigned_bundle_is_refused_when_a_key_is_given(make_bundle, make_keys):
    refused(make_bundle("gru"), make_keys()[1], SIGNATURE_FILE, "missing — the bundle is not signed")


def test_files_added_or_removed_after_signing_are_refused(signed_bundle, make_keys, tmp_path):
    public = make_keys()[1]
    added = copy(signed_bundle, tmp_path, "added")
    (added / "notes.txt").write_text("hi")
    refused(added, public, "notes.txt", "unexpected file")
    removed = copy(signed_bundle, tmp_path, "removed")  # an optional file dropped and unlisted: a valid layout
    (removed / "tokenizer.json").unlink()
    manifest = json.loads((removed / MANIFEST_FILE).read_text())
    del manifest["files"]["tokenizer.json"]
    (removed / MANIFEST_FILE).write_text(json.dumps(manifest))
    QAModel.load(removed)
    refused(removed, public, "tokenizer.json", "signed but missing")


def test_the_signature_must_cover_exactly_the_files_read(signed_bundle, make_keys):
    """Below the layout check: a file the signature does not list, or one it lists that is absent."""
    key = load_public_key(make_keys()[1])
    contents = {p.name: p.read_bytes() for p in signed_bundle.iterdir() if p.name != SIGNATURE_FILE}
    verify_signature(signed_bundle, contents, key)
    with pytest.raises(BundleError, match="not covered by the signature") as info:
        verify_signature(signed_bundle, {**contents, "extra.json": b"{}"}, key)
    assert info.value.file == "extra.json"
    with pytest.raises(BundleError, match="signed but missing") as info:
        verify_signature(signed_bundle, {k: v for k, v in contents.items() if k != ONNX_FILE}, key)
    assert info.value.file == ONNX_FILE


def test_what_is_verified_is_what_is_used(signed_bundle, make_keys, tmp_path, monkeypatch):
    """A file swapped after it was read (between the check and the session) is never used: the bytes read
    once are hashed, verified and handed to onnxruntime."""
    bundle = copy(signed_bundle, tmp_path)
    real = verify_signature
    calls = []

    def swap_then_verify(root, contents, key):
        favour(bundle, 7)  # on disk now; the loader holds the old bytes
        calls.append(contents[ONNX_FILE])
        real(root, contents, key)

    monkeypatch.setattr("rnnqa.runtime.bundle.verify_signature", swap_then_verify)
    model = QAModel.load(bundle, public_key=make_keys()[1])
    assert model.bundle.onnx_bytes == calls[0] != (bundle / ONNX_FILE).read_bytes()


def test_a_refused_reload_keeps_the_old_bundle_serving(signed_bundle, make_bundle, make_keys, tmp_path):
    model = QAModel.load(signed_bundle, public_key=make_keys()[1])
    before = model.answer(QUESTION)
    attacked = copy(signed_bundle, tmp_path)
    favour(attacked, 3)
    for bad, reason in ((attacked, "differs from the signed file"), (make_bundle("gru"), "not signed")):
        with pytest.raises(BundleError, match=reason):
            model.reload(bad)
        assert model.bundle.path == signed_bundle and model.answer(QUESTION) == before
    model.reload()  # the same signed bundle, re-read and verified again
    assert model.bundle.signed_by is not None


def test_a_bundle_loaded_without_the_key_cannot_be_served_under_one(make_bundle, make_keys):
    with pytest.raises(BundleError, match="not verified with"):
        QAModel(load_bundle(make_bundle("gru")), public_key=make_keys()[1])


def test_the_environment_variable_requires_a_signature_for_every_load(signed_bundle, make_bundle, make_keys,
                                                                      monkeypatch):
    monkeypatch.setenv(PUBLIC_KEY_ENV, str(make_keys()[1]))
    with pytest.raises(BundleError, match="not signed"):
        QAModel.load(make_bundle("gru"))
    model = QAModel.load(signed_bundle)
    with pytest.raises(BundleError, match="not signed"):
        model.reload(make_bundle("gru"))
    with pytest.raises(BundleError, match="made with another key"):  # a key in code takes precedence
        QAModel.load(signed_bundle, public_key=make_keys("other")[1])
    monkeypatch.setenv(PUBLIC_KEY_ENV, " ")
    with pytest.raises(ConfigError, match="set but empty"):
        QAModel.load(signed_bundle)


def test_bad_public_keys_are_config_errors(tmp_path, make_keys, signed_bundle):
    (tmp_path / "not.pem").write_text("hello")
    for path, message in ((tmp_path / "absent.pem", "cannot read"), (tmp_path / "not.pem", "not a PEM public key"),
                          (make_keys()[0], "not a PEM public key")):
        with pytest.raises(ConfigError, match=message):
            QAModel.load(signed_bundle, public_key=path)


def test_a_p384_key_signs_and_verifies(make_bundle, make_keys, tmp_path):
    from rnnqa.signing import sign_bundle

    private, public = make_keys("p384", curve="SECP384R1")
    bundle = copy(make_bundle("gru"), tmp_path)
    sign_bundle(bundle, private)
    assert QAModel.load(bundle, public_key=public).bundle.signed_by


def test_without_the_sign_extra_a_key_is_a_clear_error(signed_bundle, make_keys, monkeypatch):
    public = make_keys()[1]
    for module in [m for m in sys.modules if m.split(".")[0] in ("model_signing", "cryptography")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "cryptography", None)
    monkeypatch.setitem(sys.modules, "model_signing", None)
    with pytest.raises(BundleError, match=r"pip install 'rnnqa\[sign\]'"):
        QAModel.load(signed_bundle, public_key=public)
    QAModel.load(signed_bundle)  # no key, no extra needed


def test_model_signing_verifies_our_signature_and_we_verify_its_own(signed_bundle, make_bundle, make_keys, tmp_path):
    """The format is the OpenSSF one: model_signing's own CLI verifies what qa-sign wrote, and a bundle signed
    by that CLI (its defaults, the signature inside the bundle) loads here."""
    private, public = make_keys()
    ours = subprocess.run([MODEL_SIGNING, "verify", "key", signed_bundle, "--signature", signed_bundle / SIGNATURE_FILE,
                           "--public_key", public], capture_output=True, text=True)
    assert ours.returncode == 0 and "Verification succeeded" in ours.stdout, ours.stderr
    theirs = copy(make_bundle("gru"), tmp_path)
    signed = subprocess.run([MODEL_SIGNING, "sign", "key", theirs, "--signature", theirs / SIGNATURE_FILE,
                             "--private_key", private], capture_output=True, text=True)
    assert signed.returncode == 0, signed.stderr
    assert QAModel.load(theirs, public_key=public).bundle.signed_by


def test_model_signing_also_refuses_a_changed_or_extra_file(signed_bundle, make_keys, tmp_path):
    public = make_keys()[1]
    for damage in ("rehash", "extra"):
        bundle = copy(signed_bundle, tmp_path, damage)
        if damage == "rehash":
            favour(bundle, 2)
        else:
            (bundle / "notes.txt").write_text("hi")
        result = subprocess.run([MODEL_SIGNING, "verify", "key", bundle, "--signature", bundle / SIGNATURE_FILE,
                                 "--public_key", public], capture_output=True, text=True)
        assert result.returncode == 1 and ("Hash mismatch" if damage == "rehash" else "Extra files") in result.stderr


def test_keys_made_with_openssl_work(make_bundle, tmp_path):
    """README's commands: openssl ecparam … -genkey / openssl ec … -pubout."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not found")
    from rnnqa.signing import sign_bundle

    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", tmp_path / "key.pem"],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "ec", "-in", tmp_path / "key.pem", "-pubout", "-out", tmp_path / "key.pub.pem"],
                   check=True, capture_output=True)
    bundle = copy(make_bundle("gru"), tmp_path)
    sign_bundle(bundle, tmp_path / "key.pem")
    assert QAModel.load(bundle, public_key=tmp_path / "key.pub.pem").answer(QUESTION) == \
        QAModel.load(make_bundle("gru")).answer(QUESTION)


def test_qa_ask_public_key(signed_bundle, make_bundle, make_keys):
    from click.testing import CliRunner

    from rnnqa.ask.cli import main

    ok = CliRunner().invoke(main, ["--bundle", str(signed_bundle), "--public-key", str(make_keys()[1]), QUESTION])
    assert ok.exit_code == 0 and ok.output.strip() == str(QAModel.load(signed_bundle).answer(QUESTION)), ok.output
    for bundle, key, message in ((signed_bundle, make_keys("other")[1], "model.sig: made with another key"),
                                 (make_bundle("gru"), make_keys()[1], "model.sig: missing — the bundle is not")):
        result = CliRunner().invoke(main, ["--bundle", str(bundle), "--public-key", str(key), QUESTION])
        assert result.exit_code == 1 and result.output.startswith(f"error: {message}"), result.output
