"""Quality metrics from predicted probabilities. numpy only, so eager and runtime share them."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Quality:
    """How well answers and "I don't know" were given at ``threshold``."""

    threshold: float
    questions: int  # in-domain questions scored
    accuracy: float  # top-1 correct, whatever the confidence
    coverage: float  # share answered (confidence >= threshold)
    confident_accuracy: float  # accuracy among the answered (nan when none answered)
    correct_and_confident: float  # share both correct and answered
    ood_questions: int = 0  # out-of-domain questions scored
    rejection_rate: float | None = None  # share of out-of-domain questions answered "I don't know"
    near_miss_questions: int = 0  # near misses scored: known words, a question never taught
    near_miss_rejection: float | None = None  # share of them answered "I don't know"
    near_miss_by_kind: dict | None = None  # kind → share answered "I don't know"

    @property
    def confidently_wrong(self) -> float:
        """Share of the in-domain questions answered confidently and wrongly."""
        return self.coverage - self.correct_and_confident

    @property
    def rejection(self) -> float | None:
        """What a threshold must keep high: the lower of out-of-domain and near-miss rejection."""
        rates = [r for r in (self.rejection_rate, self.near_miss_rejection) if r is not None]
        return min(rates) if rates else None

    def to_json(self) -> dict:
        data = {**asdict(self), "confidently_wrong": self.confidently_wrong if self.questions else None}
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in data.items()}

    def summary(self) -> str:
        parts = []
        if self.questions:
            parts.append(f"{self.questions} questions: accuracy {self.accuracy:.3f}, correct and confident "
                         f"{self.correct_and_confident:.3f}, coverage {self.coverage:.3f}, accuracy when "
                         f"confident {self.confident_accuracy:.3f}, confidently wrong {self.confidently_wrong:.3f}")
        if self.rejection_rate is not None:
            parts.append(f"{self.ood_questions} out-of-domain: {self.rejection_rate:.3f} answered \"I don't know\", "
                         f"{1 - self.rejection_rate:.3f} confidently wrong")
        if self.near_miss_rejection is not None:
            kinds = "".join(f", {k} {v:.3f}" for k, v in (self.near_miss_by_kind or {}).items())
            parts.append(f"{self.near_miss_questions} near misses: {self.near_miss_rejection:.3f} answered \"I don't "
                         f"know\" ({1 - self.near_miss_rejection:.3f} confidently wrong{kinds})")
        return f"quality at threshold {self.threshold:g}: " + "; ".join(parts)


def quality(probs: np.ndarray, labels: np.ndarray, threshold: float, ood_probs: np.ndarray | None = None,
            near_probs: np.ndarray | None = None, near_kinds: list[str] | None = None) -> Quality:
    """Score ``probs`` ``(N, A)`` against ``labels`` ``(N,)``; ``ood_probs`` ``(M, A)`` and near-miss
    ``near_probs`` ``(K, A)`` (with each one's kind, optional) are optional."""
    confidence, predicted = probs.max(axis=1), probs.argmax(axis=1)
    correct, known = predicted == labels, confidence >= threshold
    rejection = None
    if ood_probs is not None and len(ood_probs):
        rejection = float(np.mean(ood_probs.max(axis=1) < threshold))
    near_rejection, by_kind = None, None
    if near_probs is not None and len(near_probs):
        rejected = near_probs.max(axis=1) < threshold
        near_rejection = float(rejected.mean())
        if near_kinds is not None:
            kinds = np.array(near_kinds)
            by_kind = {k: float(rejected[kinds == k].mean()) for k in sorted(set(near_kinds))}
    return Quality(
        threshold=float(threshold),
        questions=len(labels),
        accuracy=_mean(correct),
        coverage=_mean(known),
        confident_accuracy=_mean(correct[known]),
        correct_and_confident=_mean(correct & known),
        ood_questions=0 if ood_probs is None else len(ood_probs),
        rejection_rate=rejection,
        near_miss_questions=0 if near_probs is None else len(near_probs),
        near_miss_rejection=near_rejection,
        near_miss_by_kind=by_kind,
    )


SWEEP_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(2, 20))  # 0.10 … 0.95


def sweep(probs: np.ndarray, labels: np.ndarray, ood_probs: np.ndarray | None = None,
          thresholds=SWEEP_THRESHOLDS, near_probs: np.ndarray | None = None,
          near_kinds: list[str] | None = None) -> list[Quality]:
    """:func:`quality` at each of ``thresholds``: the answers-versus-"I don't know" trade-off."""
    return [quality(probs, labels, t, ood_probs, near_probs, near_kinds) for t in thresholds]


def pick_threshold(reports: list[Quality], min_rejection: float) -> Quality | None:
    """The report with the most correct-and-confident answers (then the lowest threshold) among
    those rejecting at least ``min_rejection`` of the out-of-domain questions and of the near misses
    (each, where scored); None when none does (or neither was scored), and None when none of those answers
    a labelled question right: a threshold is never chosen from zero correct answers."""
    ok = [r for r in reports if r.rejection is not None and r.rejection >= min_rejection
          and r.correct_and_confident > 0]  # nan (no labelled questions) is not > 0
    if not ok:
        return None
    return max(ok, key=lambda r: (r.correct_and_confident, -r.threshold))


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> list[dict]:
    """Per confidence bin: range, count, mean confidence and accuracy (for a reliability diagram)."""
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        rows.append({"low": float(edges[b]), "high": float(edges[b + 1]), "count": int(mask.sum()),
                     "confidence": float(confidence[mask].mean()) if mask.any() else None,
                     "accuracy": float(correct[mask].mean()) if mask.any() else None})
    return rows
