"""Sign a bundle directory in the OpenSSF model-signing format with an ECDSA private key."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from rnnqa.bundle_format import MANIFEST_FILE, SIGNATURE_FILE
from rnnqa.errors import BundleError, ConfigError, ExportError
from rnnqa.runtime.bundle import load_bundle
from rnnqa.runtime.signature import CURVES, SIGN_EXTRA, PublicKey, key_fingerprint


def check_private_key(private_key: str | Path) -> PublicKey:
    """Read the unencrypted PEM ECDSA private key at ``private_key`` (``openssl ecparam -name prime256v1
    -genkey -noout -out key.pem``) and return its public half, so a bad key fails before any work.

    Raises:
        ConfigError: the file cannot be read, is encrypted, or is not a P-256/384/521 ECDSA private key,
            or the ``sign`` extra is missing.
    """
    try:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError as exc:
        raise ConfigError(f"signing needs the sign extra: {SIGN_EXTRA} ({exc})") from None
    path = Path(private_key)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the private key: {exc.strerror or exc}") from exc
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:  # TypeError: an encrypted key, and no password
        raise ConfigError(f"{path}: not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name not in CURVES:
        raise ConfigError(f"{path}: not an ECDSA P-256, P-384 or P-521 private key")
    public = key.public_key()
    return PublicKey(path, public, key_fingerprint(public))


def sign_bundle(bundle_dir: str | Path, private_key: str | Path) -> PublicKey:
    """Sign the bundle at ``bundle_dir``: every file but the signature, the manifest included, hashed with
    sha256, into ``model.sig`` beside them (replacing an older one atomically). The bundle must pass the
    loader's checks first; after signing, it is loaded again with the key's public half.

    Returns:
        The public half of ``private_key``: the key that verifies the bundle now.

    Raises:
        ConfigError: a bad key, or the ``sign`` extra is missing.
        BundleError: the bundle does not load, before signing or (changed meanwhile) after.
        ExportError: the signature could not be written.
    """
    public = check_private_key(private_key)
    root = Path(bundle_dir)
    checked = load_bundle(root)
    try:
        from model_signing import hashing, signing
    except ImportError as exc:
        raise ConfigError(f"signing needs the sign extra: {SIGN_EXTRA} ({exc})") from None
    hashed = (hashing.Config().use_file_serialization(hashing_algorithm="sha256")
              .set_ignored_paths(paths=[SIGNATURE_FILE], ignore_git_paths=False))
    config = signing.Config().use_elliptic_key_signer(private_key=Path(private_key)).set_hashing_config(hashed)
    try:
        # beside the bundle, not in it (a file inside would be hashed, and loads meanwhile would refuse it),
        # on its filesystem, so the signature lands with one rename
        with tempfile.TemporaryDirectory(prefix=".rnnqa-sign-", dir=root.resolve().parent) as scratch:
            signature = Path(scratch, SIGNATURE_FILE)
            config.sign(root, signature)
            with open(signature, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(signature, root / SIGNATURE_FILE)
    except (OSError, ValueError) as exc:
        raise ExportError(f"{root}: cannot sign: {exc}") from exc
    signed = load_bundle(root, public_key=public)
    if signed.manifest != checked.manifest:  # the files changed between the check and the signing
        (root / SIGNATURE_FILE).unlink(missing_ok=True)
        raise BundleError(MANIFEST_FILE, "the bundle changed while it was being signed; the signature was removed")
    return public
