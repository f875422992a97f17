"""qa-train's quality line: validation and out-of-domain questions scored with the eager model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnqa.data.table import QAPairs
from rnnqa.eval.eager import eager_probabilities
from rnnqa.eval.metrics import Quality, quality
from rnnqa.eval.questions import read_questions
from rnnqa.train.trainer import TrainResult


def quality_report(result: TrainResult, val: QAPairs | None, ood_path: Path | None) -> Quality:
    """Quality of ``result`` on ``val`` (its answers must be classes) and the OOD questions file, at
    the run's threshold."""
    answers = {a: i for i, a in enumerate(result.vocab.answers)}
    questions = [] if val is None else val.questions
    labels = np.array([answers[a] for a in ([] if val is None else val.answers)], dtype=np.int64)
    probs = eager_probabilities(result.model, result.vocab, questions)
    ood = None if ood_path is None else eager_probabilities(result.model, result.vocab, read_questions(ood_path))
    return quality(probs, labels, result.train_config.threshold, ood)
