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
