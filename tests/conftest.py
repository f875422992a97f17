"""Shared fixtures: the public seed CSV (skipped when absent) and tiny seeded runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnqa.data.table import default_dataset_path, load_qa_csv

SEED_CSV = Path(__file__).resolve().parents[1].parent / "shared" / "seed" / "100_Unique_QA_Dataset.csv"


@pytest.fixture(scope="session")
def seed_csv() -> Path:
    if not SEED_CSV.exists():
        pytest.skip(f"seed CSV not found at {SEED_CSV}")
    return SEED_CSV


@pytest.fixture
def write_csv(tmp_path):
    """Write bytes or text to a CSV file in tmp_path and return its path."""

    def write(content: str | bytes, name: str = "qa.csv") -> Path:
        path = tmp_path / name
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path

    return write


_RUNS: dict = {}


@pytest.fixture(scope="session")
def make_run(tmp_path_factory):
    """Train (once per setting) a small model on the bundled dataset and save it as a run directory."""

    def make(cell: str = "gru", epochs: int = 3, **model) -> Path:
        from rnnqa.train.run import save_run
        from rnnqa.train.trainer import TrainConfig, train

        key = (cell, epochs, tuple(sorted(model.items())))
        if key not in _RUNS:
            pairs = load_qa_csv(default_dataset_path())
            config = {"cell": cell, "embed_dim": 16, "hidden_dim": 24, **model}
            result = train(pairs, config, TrainConfig(device="cpu", epochs=epochs, early_stop=False))
            _RUNS[key] = save_run(result, tmp_path_factory.mktemp("run") / "run", data=str(default_dataset_path()))
        return _RUNS[key]

    return make


_BUNDLES: dict = {}


@pytest.fixture(scope="session")
def make_bundle(make_run, tmp_path_factory):
    """Export (once per setting) a run from ``make_run`` as a bundle directory."""

    def make(cell: str = "gru", epochs: int = 3, **model) -> Path:
        from rnnqa.export.bundle import export_bundle

        key = (cell, epochs, tuple(sorted(model.items())))
        if key not in _BUNDLES:
            out = tmp_path_factory.mktemp("bundle") / "bundle"
            _BUNDLES[key] = export_bundle(make_run(cell, epochs, **model), out).bundle_dir
        return _BUNDLES[key]

    return make


@pytest.fixture(scope="session")
def seed_bundle(seed_csv, tmp_path_factory) -> Path:
    """A bundle trained with qa-train's defaults on the public seed CSV."""
    from rnnqa.export.bundle import export_bundle
    from rnnqa.train.run import save_run
    from rnnqa.train.trainer import TrainConfig, train

    root = tmp_path_factory.mktemp("seed")
    result = train(load_qa_csv(seed_csv), None, TrainConfig(device="cpu"))
    save_run(result, root / "run", data=str(seed_csv))
    return export_bundle(root / "run", root / "bundle").bundle_dir


_KEYS: dict = {}


@pytest.fixture(scope="session")
def make_keys(tmp_path_factory):
    """An ECDSA key pair per name (P-256 unless ``curve`` says otherwise), as PEM files: (private, public).
    Needs the sign extra (cryptography); tests that use it skip without it."""

    def make(name: str = "signer", curve: str = "SECP256R1") -> tuple[Path, Path]:
        pytest.importorskip("model_signing", reason="needs the sign extra: pip install 'rnnqa[sign]'")
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        if (name, curve) not in _KEYS:
            key = ec.generate_private_key(getattr(ec, curve)())
            root = tmp_path_factory.mktemp(f"keys-{name}")
            private, public = root / "key.pem", root / "key.pub.pem"
            private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
            public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                             serialization.PublicFormat.SubjectPublicKeyInfo))
            _KEYS[name, curve] = private, public
        return _KEYS[name, curve]

    return make


@pytest.fixture(scope="session")
def signed_bundle(make_bundle, make_keys, tmp_path_factory) -> Path:
    """A copy of ``make_bundle("gru")`` signed with ``make_keys()``'s private key (never modify it: copy it)."""
    import shutil

    from rnnqa.signing import sign_bundle

    out = tmp_path_factory.mktemp("signed") / "bundle"
    shutil.copytree(make_bundle("gru"), out)
    sign_bundle(out, make_keys()[0])
    return out
