"""The signature vector in tests/vectors/signature/ pins model.sig's format: Python verifies it (so does the
JavaScript runtime: clients/js/test/signing.test.js), refuses it once a byte changes, and a signature qa-sign
makes today has the vector's shape — the same envelope, statement and serialization fields."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from rnnqa.bundle_format import SIGNATURE_FILE
from rnnqa.errors import BundleError
from rnnqa.runtime.signature import load_public_key, verify_signature
from rnnqa.signing import sign_bundle

pytest.importorskip("model_signing", reason="needs the sign extra: pip install 'rnnqa[sign]'")
VECTOR = Path(__file__).resolve().parents[1] / "vectors" / "signature"
FILES = ("manifest.json", "vocab.json")


def contents(root: Path) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name in FILES}


def shape(signature: dict) -> dict:
    """What a runtime reads of a signature, without its values that change with each key and bundle."""
    statement = json.loads(base64.b64decode(signature["dsseEnvelope"]["payload"]))
    return {
        "keys": sorted(signature), "mediaType": signature["mediaType"],
        "material": sorted(signature["verificationMaterial"]), "publicKey": sorted(signature["verificationMaterial"]["publicKey"]),
        "envelope": sorted(signature["dsseEnvelope"]), "payloadType": signature["dsseEnvelope"]["payloadType"],
        "signatures": [sorted(s) for s in signature["dsseEnvelope"]["signatures"]],
        "statement": sorted(statement), "_type": statement["_type"], "predicateType": statement["predicateType"],
        "subject": [sorted(s) for s in statement["subject"]], "digest": [sorted(s["digest"]) for s in statement["subject"]],
        "resources": sorted({tuple(sorted(r)) for r in statement["predicate"]["resources"]}),
        "algorithms": sorted({r["algorithm"] for r in statement["predicate"]["resources"]}),
        "serialization": {k: v for k, v in statement["predicate"]["serialization"].items() if k != "ignore_paths"},
    }


def test_the_vector_verifies_and_one_changed_byte_is_refused(tmp_path):
    key = load_public_key(VECTOR / "key.pub.pem")
    verify_signature(VECTOR / "bundle", contents(VECTOR / "bundle"), key)
    changed = contents(VECTOR / "bundle")
    changed["vocab.json"] = changed["vocab.json"].replace(b"Lima", b"Lina")
    with pytest.raises(BundleError) as info:
        verify_signature(VECTOR / "bundle", changed, key)
    assert (info.value.file, info.value.reason) == ("vocab.json", "differs from the signed file — the bundle was "
                                                                  "modified after signing")
    copy = tmp_path / "bundle"
    shutil.copytree(VECTOR / "bundle", copy)
    (copy / SIGNATURE_FILE).write_bytes((copy / SIGNATURE_FILE).read_bytes().replace(b'"hint":"', b'"hint":"0'))
    with pytest.raises(BundleError, match="made with another key"):
        verify_signature(copy, contents(copy), key)


def test_a_signature_made_today_has_the_vector_s_shape(make_bundle, make_keys, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(make_bundle("gru"), bundle)
    sign_bundle(bundle, make_keys()[0])
    today = json.loads((bundle / SIGNATURE_FILE).read_text())
    vector = json.loads((VECTOR / "bundle" / SIGNATURE_FILE).read_text())
    assert shape(today) == shape(vector)
    assert shape(vector)["serialization"] == {"method": "files", "hash_type": "sha256", "allow_symlinks": False}
