"""Loss and accuracy curves as PNG (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from rnnqa.train.trainer import EpochMetrics  # noqa: E402


def plot_history(history: list[EpochMetrics], out_dir: Path) -> list[Path]:
    """Write ``loss.png`` and ``accuracy.png`` into ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    epochs = [m.epoch for m in history]
    written = []
    for metric, ylabel in (("loss", "cross-entropy loss"), ("accuracy", "accuracy")):
        fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
        ax.plot(epochs, [getattr(m, f"train_{metric}") for m in history], marker=".", label="train")
        if history[0].val_loss is not None:
            ax.plot(epochs, [getattr(m, f"val_{metric}") for m in history], marker=".", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        if metric == "accuracy":
            ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{metric} per epoch")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = out_dir / f"{metric}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written
