"""qa-train's quality line, and its threshold when data allows: validation, out-of-domain and near-miss
questions scored with the eager model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnqa.data.table import QAPairs
from rnnqa.train.eager import eager_probabilities
from rnnqa.eval.metrics import Quality, pick_threshold, quality, sweep
from rnnqa.eval.questions import read_near_misses, read_questions
from rnnqa.train.trainer import TrainResult


def quality_report(result: TrainResult, val: QAPairs | None, ood_path: Path | None,
                   near_path: Path | None = None) -> Quality:
    """Quality of ``result`` on ``val`` (its answers must be classes), the OOD questions file and the
    near misses, at the run's threshold."""
    probs, labels, ood, near, kinds = _scored(result, val, ood_path, near_path)
    return quality(probs, labels, result.train_config.threshold, ood, near, kinds)


def choose_threshold(result: TrainResult, val: QAPairs, ood_path: Path | None, near_path: Path | None,
                     target_rejection: float) -> Quality | None:
    """The rule of ``qa-eval --sweep --target-rejection``, on the validation questions: the threshold with
    the most correct-and-confident answers among those rejecting at least ``target_rejection`` of the
    out-of-domain questions and of the near misses; None when none does."""
    probs, labels, ood, near, kinds = _scored(result, val, ood_path, near_path)
    return pick_threshold(sweep(probs, labels, ood, near_probs=near, near_kinds=kinds), target_rejection)


def _scored(result, val, ood_path, near_path):
    answers = {a: i for i, a in enumerate(result.vocab.answers)}
    questions = [] if val is None else val.questions
    labels = np.array([answers[a] for a in ([] if val is None else val.answers)], dtype=np.int64)
    probs = eager_probabilities(result.model, result.vocab, questions)
    ood = None if ood_path is None else eager_probabilities(result.model, result.vocab, read_questions(ood_path))
    near, kinds = (None, None) if near_path is None else read_near_misses(near_path)
    near = None if near is None else eager_probabilities(result.model, result.vocab, near)
    return probs, labels, ood, near, kinds
