"""Signed bundles in JavaScript against Python: Python signs and tampers, both runtimes must refuse each case
with the same file and reason (Node with node:crypto and with Web Crypto, the page in Chromium), and load the
untouched one. clients/js/test/signing.test.js and browser_signing.test.js read the cases written here."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from rnnqa.errors import BundleError
from rnnqa.runtime import QAModel
from rnnqa.runtime.signature import load_public_key
from rnnqa.signing import sign_bundle
from tests.clients.node import chromium, need_node, node_test

pytest.importorskip("model_signing", reason="needs the sign extra: pip install 'rnnqa[sign]'")
VECTOR = Path(__file__).resolve().parents[1] / "vectors" / "signature"


def rehash(bundle: Path, name: str) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256((bundle / name).read_bytes()).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def edit_statement(bundle: Path, change) -> None:
    """Change the signed statement inside model.sig without signing it again."""
    def envelope(sig):
        statement = json.loads(base64.b64decode(sig["dsseEnvelope"]["payload"]))
        change(statement)
        sig["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    edit_json(bundle / "model.sig", envelope)


def blake2_signed(bundle: Path, private: Path) -> None:
    from model_signing import hashing, signing

    hashed = (hashing.Config().use_file_serialization(hashing_algorithm="blake2")
              .set_ignored_paths(paths=["model.sig"], ignore_git_paths=False))
    signing.Config().use_elliptic_key_signer(private_key=private).set_hashing_config(hashed).sign(
        bundle, bundle.parent / "blake2.sig")
    shutil.move(bundle.parent / "blake2.sig", bundle / "model.sig")


def tampered(root: Path, signed: Path, keys: dict) -> list[tuple[str, Path, str]]:
    """(what was done, bundle, key name): each a copy of the signed bundle, changed as an attacker (or an
    accident) would change it."""
    cases = []

    def case(what: str, key: str = "signer", setup=None) -> None:
        out = root / f"case{len(cases)}"
        shutil.copytree(signed, out)
        if setup:
            setup(out)
        cases.append((what, out, key))

    case("the signed bundle")
    case("the signed bundle, read with another key", "other")
    case("model.sig removed", setup=lambda b: (b / "model.sig").unlink())
    case("answers swapped in vocab.json, its hash rewritten in the manifest", setup=lambda b: (
        edit_json(b / "vocab.json", lambda v: v["answers"].reverse()), rehash(b, "vocab.json")))
    case("the manifest's threshold changed", setup=lambda b: edit_json(
        b / "manifest.json", lambda m: m.update(threshold=0.0)))
    case("tokenizer.json removed, and from the manifest", setup=lambda b: (
        (b / "tokenizer.json").unlink(), edit_json(b / "manifest.json", lambda m: m["files"].pop("tokenizer.json"))))

    def unlisted(b: Path) -> None:  # signed without tokenizer.json, which is then put back and listed
        kept = (b / "tokenizer.json").read_bytes()
        manifest = (b / "manifest.json").read_text()
        (b / "tokenizer.json").unlink()
        edit_json(b / "manifest.json", lambda m: m["files"].pop("tokenizer.json"))
        sign_bundle(b, keys["signer"][0])
        (b / "tokenizer.json").write_bytes(kept)
        (b / "manifest.json").write_text(manifest)
    case("a file added after signing", setup=unlisted)
    case("a digest in the statement changed, not signed again", setup=lambda b: edit_statement(
        b, lambda s: s["predicate"]["resources"][0].update(digest="00" * 32)))
    case("the statement's hint names another key", "other", setup=lambda b: edit_json(
        b / "model.sig", lambda s: s["verificationMaterial"]["publicKey"].update(hint=keys["other"][2])))
    case("model.sig truncated", setup=lambda b: (b / "model.sig").write_bytes((b / "model.sig").read_bytes()[:300]))
    case("model.sig not JSON", setup=lambda b: (b / "model.sig").write_bytes(b"\xff\xfe garbage"))
    case("another media type", setup=lambda b: edit_json(b / "model.sig", lambda s: s.update(mediaType="text/plain")))
    case("no signature in the envelope", setup=lambda b: edit_json(
        b / "model.sig", lambda s: s["dsseEnvelope"].update(signatures=[])))
    case("model.sig with a byte-order mark", setup=lambda b: (b / "model.sig").write_bytes(
        b"\xef\xbb\xbf" + (b / "model.sig").read_bytes()))
    case("a signature that is not base64 text, under another key's hint", setup=lambda b: edit_json(
        b / "model.sig", lambda s: (s["dsseEnvelope"]["signatures"][0].update(sig=5),
                                    s["verificationMaterial"]["publicKey"].update(hint=keys["other"][2]))))
    case("a signature over 1 MiB", setup=lambda b: (b / "model.sig").write_bytes(b" " * (1 << 20) + b"{}"))
    case("signed with blake2 per file", setup=lambda b: blake2_signed(b, keys["signer"][0]))
    return cases


def python_outcome(bundle: Path, public: Path) -> dict:
    try:
        model = QAModel.load(bundle, public_key=public)
    except BundleError as exc:
        return {"file": exc.file, "reason": exc.reason}
    answer = model.answer("What is the capital of Peru?")
    return {"answer": answer.text, "line": str(answer), "signedBy": model.bundle.signed_by}


@pytest.fixture(scope="module")
def signing_cases(make_bundle, make_keys, tmp_path_factory) -> dict:
    need_node()
    root = tmp_path_factory.mktemp("js-signing")
    signed = root / "signed"
    shutil.copytree(make_bundle("gru", epochs=30), signed)  # test_js.py's
    keys = {name: (*make_keys(name), load_public_key(make_keys(name)[1]).fingerprint) for name in ("signer", "other")}
    sign_bundle(signed, keys["signer"][0])
    cases = [{"what": what, "dir": str(bundle), "key": str(keys[key][1]), **python_outcome(bundle, keys[key][1])}
             for what, bundle, key in tampered(root, signed, keys)]
    assert "answer" in cases[0] and all("reason" in c for c in cases[1:]), cases
    assert len({c["reason"].split(":")[0] for c in cases[1:]}) >= 9  # the cases are different refusals
    p384 = make_keys("p384", "SECP384R1")
    big = root / "p384"
    shutil.copytree(make_bundle("gru", epochs=30), big)
    sign_bundle(big, p384[0])
    cases.append({"what": "signed with a P-384 key", "dir": str(big), "key": str(p384[1]),
                  **python_outcome(big, p384[1])})
    path = root / "signing.json"
    vector = {"dir": str(VECTOR), "fingerprint": load_public_key(VECTOR / "key.pub.pem").fingerprint}
    path.write_text(json.dumps({"cases": cases, "vector": vector}), encoding="utf-8")
    return {"RNNQA_BUNDLE": str(signed), "RNNQA_SIGNING_CASES": str(path)}


def test_node_refuses_each_tampering_as_python_does(signing_cases):
    node_test(signing_cases, "test/signing.test.js")


def test_the_page_in_chromium_refuses_each_tampering_as_python_does(signing_cases):
    node_test({**signing_cases, "RNNQA_CHROMIUM": chromium()}, "test/browser_signing.test.js")
