"""Verify a bundle's signature (OpenSSF model signing v1.0, an ECDSA key) against the bytes already read.

Needs the ``sign`` extra (``model-signing``, ``cryptography``): both are imported here, lazily, only when a
public key is given or required, so ``import rnnqa.runtime`` stays numpy + onnxruntime + click.

The signature file is read once and its DSSE envelope verified with the key; the statement it signs
lists the sha256 of every file, and those are compared with the sha256 of the bytes the loader read,
hashed and will use — never with the files on disk again (no window between check and use).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rnnqa.bundle_format import MANIFEST_FILE, SIGNATURE_FILE
from rnnqa.errors import BundleError, ConfigError

# Set to a PEM public key's path, every QAModel.load and reload in the process requires a bundle signed
# with that key (a key passed in code takes precedence). qa-serve's workers and Ray actors inherit it.
PUBLIC_KEY_ENV = "RNNQA_PUBLIC_KEY"
SIGN_EXTRA = "pip install 'rnnqa[sign]'"
MAX_SIGNATURE_BYTES = 1 << 20  # a signature of a few files is ~2 KB
CURVES = ("secp256r1", "secp384r1", "secp521r1")  # those the spec's key mode supports; P-256 recommended
# What a malformed signature file makes the parsers raise; RecursionError: JSON nested thousands deep.
_SIGNATURE_ERRORS: tuple[type[BaseException], ...] = (ValueError, KeyError, TypeError, IndexError, AttributeError,
                                                      RecursionError)


@dataclass(frozen=True)
class PublicKey:
    """An ECDSA public key, read and checked once. ``fingerprint``: sha256 of its PEM (SubjectPublicKeyInfo),
    the identifier the OpenSSF signature records as its key hint."""

    path: Path
    key: object  # cryptography's EllipticCurvePublicKey
    fingerprint: str


def load_public_key(path: str | os.PathLike) -> PublicKey:
    """Read the PEM public key at ``path`` (``openssl ec -in key.pem -pubout -out key.pub.pem``).

    Raises:
        ConfigError: the file cannot be read or is not a P-256/384/521 ECDSA public key.
        BundleError: the ``sign`` extra is not installed.
    """
    serialization, ec = _cryptography()
    from cryptography.exceptions import UnsupportedAlgorithm

    path = Path(path)
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the public key: {exc.strerror or exc}") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"{path}: not a PEM public key ({exc})") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in CURVES:
        raise ConfigError(f"{path}: not an ECDSA P-256, P-384 or P-521 public key")
    return PublicKey(path, key, key_fingerprint(key))


def resolve_public_key(public_key: str | os.PathLike | PublicKey | None) -> PublicKey | None:
    """The key loads must be signed with: ``public_key`` if given, else ``$RNNQA_PUBLIC_KEY``'s, else None.

    Raises:
        ConfigError: the key cannot be read, or the variable is set but empty.
        BundleError: a key is needed and the ``sign`` extra is not installed.
    """
    if isinstance(public_key, PublicKey):
        return public_key
    if public_key is not None:
        return load_public_key(public_key)
    from_env = os.environ.get(PUBLIC_KEY_ENV)
    if from_env is None:
        return None
    if not from_env.strip():
        raise ConfigError(f"{PUBLIC_KEY_ENV} is set but empty: name a PEM public key, or unset it")
    return load_public_key(from_env)


def key_fingerprint(key) -> str:
    """sha256 of the key's PEM SubjectPublicKeyInfo: model_signing's key hint."""
    serialization, _ = _cryptography()
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(pem).hexdigest()


def verify_signature(root: Path, contents: Mapping[str, bytes], public_key: PublicKey) -> None:
    """Check that ``root``'s signature file was made with ``public_key`` and covers exactly ``contents``
    (every other file of the bundle, as read), each with the sha256 of those bytes.

    Raises:
        BundleError: the signature is missing, unreadable, made with another key, not in the expected form
            (per-file sha256), or lists other files or other bytes than ``contents``.
    """
    signed = _signed_digests(root / SIGNATURE_FILE, public_key)
    for name in sorted(set(contents) - set(signed)):
        raise BundleError(name, "not covered by the signature (a file added or renamed after signing)")
    for name in sorted(set(signed) - set(contents)):
        raise BundleError(name, "signed but missing from the bundle")
    for name in sorted(contents, key=lambda name: (name == MANIFEST_FILE, name)):  # the file changed, then its hash
        if hashlib.sha256(contents[name]).hexdigest() != signed[name]:
            raise BundleError(name, "differs from the signed file — the bundle was modified after signing")


def _signed_digests(path: Path, public_key: PublicKey) -> dict[str, str]:
    """File name → sha256 hex, from the statement the signature at ``path`` signs with ``public_key``."""
    if path.is_symlink() or not path.is_file():
        raise BundleError(SIGNATURE_FILE, "missing — the bundle is not signed (sign it with qa-sign, or export "
                                          "it with qa-export --sign-key)")
    if path.stat().st_size > MAX_SIGNATURE_BYTES:
        raise BundleError(SIGNATURE_FILE, f"larger than {MAX_SIGNATURE_BYTES >> 20} MiB: not a signature")
    sigstore_pb, ec_key, invalid_signature = _model_signing()
    try:
        signature = sigstore_pb.Signature.read(path)
        hint = signature.bundle.verification_material.public_key.hint
    except (*_SIGNATURE_ERRORS, OSError) as exc:
        raise BundleError(SIGNATURE_FILE, f"not a valid signature: {_reason(exc)}") from exc
    if hint != public_key.fingerprint:  # refused before model_signing, which would print a warning for none
        signer = f"key {hint[:16]}…" if hint else "a key it does not name"
        raise BundleError(SIGNATURE_FILE, f"made with another key ({signer}; {public_key.path} is "
                                          f"{public_key.fingerprint[:16]}…)")
    verifier = ec_key.Verifier.__new__(ec_key.Verifier)
    verifier._public_key = public_key.key  # the key read once, not its file again
    try:
        statement = verifier.verify(signature)
    except invalid_signature as exc:
        raise BundleError(SIGNATURE_FILE, f"does not verify with {public_key.path}: the signature or the "
                                          "statement it signs was changed") from exc
    except _SIGNATURE_ERRORS as exc:
        raise BundleError(SIGNATURE_FILE, f"not a valid signature: {_reason(exc)}") from exc
    serialization = statement.serialization_type
    digests = {rd.identifier: rd.digest for rd in statement.resource_descriptors()}
    if serialization.get("method") != "files" or any(d.algorithm != "sha256" for d in digests.values()):
        raise BundleError(SIGNATURE_FILE, f"signs {serialization.get('method')} hashed with "
                                          f"{serialization.get('hash_type')}; rnnqa verifies a sha256 per file "
                                          "(sign with qa-sign, or model_signing's defaults)")
    return {name: digest.digest_hex for name, digest in digests.items()}


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]


def _cryptography():
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError as exc:
        raise BundleError(SIGNATURE_FILE, f"signature keys need the sign extra: {SIGN_EXTRA} ({exc})") from None
    return serialization, ec


def _model_signing():
    """model_signing's signature file and elliptic-key verifier (pinned: pyproject's sign extra)."""
    try:
        from cryptography.exceptions import InvalidSignature
        from model_signing._signing import sign_ec_key, sign_sigstore_pb
    except ImportError as exc:
        raise BundleError(SIGNATURE_FILE, f"verifying signatures needs the sign extra: {SIGN_EXTRA} ({exc})") from None
    return sign_sigstore_pb, sign_ec_key, InvalidSignature
