"""The model every benchmark measures: qa-train's defaults on the bundled dataset, exported."""

from __future__ import annotations

from pathlib import Path

from rnnqa.data.table import default_dataset_path, load_qa_csv
from rnnqa.export.bundle import export_bundle
from rnnqa.train.run import save_run
from rnnqa.train.trainer import TrainConfig, train


def default_bundle(tmp: Path) -> Path:
    """Train with qa-train's defaults on CPU into ``tmp/run`` and export ``tmp/bundle``; returns the bundle."""
    save_run(train(load_qa_csv(default_dataset_path()), None, TrainConfig(device="cpu")), tmp / "run",
             data=str(default_dataset_path()))
    return export_bundle(tmp / "run", tmp / "bundle").bundle_dir
