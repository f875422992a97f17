"""A training run on disk: weights, configs, vocabulary, metrics and plots, written atomically.

Layout of a run directory::

    model.pt        state_dict only (tensors), loaded with ``torch.load(weights_only=True)``
    config.json     {"model": ModelConfig, "train": TrainConfig, "device", "world_size", "epochs_run", "data",
                    "notes"}
    vocab.json      Vocabulary.to_json()
    metrics.csv     epoch,train_loss,train_accuracy[,val_loss,val_accuracy]
    plots/          loss.png, accuracy.png
"""

from __future__ import annotations

import csv
import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnqa.data.text import Vocabulary
from rnnqa.errors import ConfigError, RunError
from rnnqa.fileio import atomic_directory, write_json
from rnnqa.train.model import ModelConfig, QAClassifier
from rnnqa.train.plots import plot_history
from rnnqa.train.trainer import TrainResult

WEIGHTS = "model.pt"
CONFIG = "config.json"
VOCAB = "vocab.json"
METRICS = "metrics.csv"


@dataclass
class LoadedRun:
    model: QAClassifier  # eval mode, on CPU
    vocab: Vocabulary
    config: dict  # the whole config.json


def save_run(result: TrainResult, out_dir: str | Path, *, data: str = "", notes: list[str] = ()) -> Path:
    """Write ``result`` as a run directory, replacing any previous run there only when complete.

    Raises:
        RunError: the directory cannot be written (the previous run, if any, is left as it was).
    """
    out_dir = Path(out_dir)
    try:
        with atomic_directory(out_dir, overwrite=True, error=RunError) as tmp:
            torch.save(result.model.state_dict(), tmp / WEIGHTS)
            write_json(tmp / VOCAB, result.vocab.to_json(), compact=True)
            _write_metrics(result, tmp / METRICS)
            plot_history(result.history, tmp / "plots")
            # config.json last: a directory without it is never taken for a run (e.g. after a kill)
            write_json(
                tmp / CONFIG,
                {
                    "model": result.model_config.to_json(),
                    "train": result.train_config.to_json(),
                    "device": result.device,
                    "world_size": result.world_size,
                    "epochs_run": len(result.history),
                    "stopped_early": result.stopped_early,
                    "data": data,
                    "notes": list(notes),
                },
            )
    except OSError as exc:  # a parent that is a file, a full disk …: one line, and no half-written run
        raise RunError(f"{out_dir}: cannot write the run: {exc.strerror or exc}") from exc
    return out_dir


def _write_metrics(result: TrainResult, path: Path) -> None:
    with_val = result.history[0].val_loss is not None
    columns = ["epoch", "train_loss", "train_accuracy"] + (["val_loss", "val_accuracy"] if with_val else [])
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for m in result.history:
            writer.writerow([getattr(m, c) for c in columns])


def load_run(run_dir: str | Path) -> LoadedRun:
    """Rebuild the trained model from a run directory (no unpickling: ``weights_only=True``).

    Raises:
        RunError: a file is missing or unreadable, or the weights do not fit the config.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"{run_dir}: no such run directory (train one with qa-train)")
    try:
        config = json.loads((run_dir / CONFIG).read_text(encoding="utf-8"))
        vocab = Vocabulary.from_json(json.loads((run_dir / VOCAB).read_text(encoding="utf-8")))
        model_config = ModelConfig.from_json(config["model"])
        state = torch.load(run_dir / WEIGHTS, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise RunError(f"{run_dir}: incomplete run, missing {Path(exc.filename).name}") from exc
    except (json.JSONDecodeError, KeyError, ConfigError) as exc:
        raise RunError(f"{run_dir}: unreadable config or vocabulary: {exc}") from exc
    except (RuntimeError, pickle.UnpicklingError, EOFError, OSError, ValueError) as exc:
        raise RunError(f"{run_dir / WEIGHTS}: cannot load weights: {exc}") from exc
    if (model_config.vocab_size, model_config.num_answers) != (len(vocab), len(vocab.answers)):
        raise RunError(f"{run_dir}: config.json and vocab.json disagree on vocabulary/answer counts")
    model = QAClassifier(model_config)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise RunError(f"{run_dir / WEIGHTS}: weights do not match config.json: {exc}") from exc
    return LoadedRun(model.eval(), vocab, config)
