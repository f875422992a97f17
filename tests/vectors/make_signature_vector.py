"""Write tests/vectors/signature/: a signature vector that pins model.sig's format for every runtime.

    .venv/bin/python tests/vectors/make_signature_vector.py

bundle/ holds two small files and model.sig, signed as qa-sign signs a bundle (OpenSSF model signing v1.0,
sha256 per file, an ECDSA P-256 key made here and thrown away); key.pub.pem is the key's public half. The
files are not a loadable bundle: the vector is the signature over them. Python (tests/signing/test_vector.py)
and JavaScript (clients/js/test/signing.test.js) must both verify it and refuse it once one byte changes.
Running this again makes a new key and a new vector; commit the result only when the format itself moved.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from model_signing import hashing, signing

OUT = Path(__file__).resolve().parent / "signature"
FILES = {
    "manifest.json": '{"format": "signature-vector", "note": "not a bundle: the files a signature covers"}\n',
    "vocab.json": '{"answers": ["Lima", "Paris"], "tokens": ["<PAD>", "<UNK>", "capital", "peru"]}\n',
}


def main() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    shutil.rmtree(OUT, ignore_errors=True)
    bundle = OUT / "bundle"
    bundle.mkdir(parents=True)
    for name, text in FILES.items():
        (bundle / name).write_text(text, encoding="utf-8")
    (OUT / "key.pub.pem").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    with tempfile.TemporaryDirectory() as scratch:
        private = Path(scratch, "key.pem")
        private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
        hashed = (hashing.Config().use_file_serialization(hashing_algorithm="sha256")
                  .set_ignored_paths(paths=["model.sig"], ignore_git_paths=False))
        signature = Path(scratch, "model.sig")
        signing.Config().use_elliptic_key_signer(private_key=private).set_hashing_config(hashed).sign(bundle, signature)
        shutil.copy(signature, bundle / "model.sig")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
