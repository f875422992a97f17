"""The answer API: a bundle in, answers out. numpy and onnxruntime only."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnqa.bundle_format import INPUT_NAMES, OUTPUT_NAME
from rnnqa.data.text import PAD_ID
from rnnqa.errors import BundleError
from rnnqa.runtime.bundle import Bundle, load_bundle
from rnnqa.runtime.session import make_session

UNKNOWN_TEXT = "I don't know"


@dataclass(frozen=True)
class Answer:
    """One answer: ``text`` verbatim from the training data, ``confidence`` its softmax probability,
    ``known`` whether ``confidence`` reaches the threshold (else show :data:`UNKNOWN_TEXT`)."""

    text: str
    confidence: float
    known: bool

    def __str__(self) -> str:
        return self.text if self.known else UNKNOWN_TEXT


class QAModel:
    """Answers questions from a bundle written by ``qa-export``. Safe to share between threads."""

    def __init__(self, bundle: Bundle, *, threads: int | None = None, providers: Sequence[str] | None = None,
                 threshold: float | None = None):
        self.bundle = bundle
        self.vocab = bundle.vocab
        self.max_len = bundle.max_len
        self.threshold = bundle.threshold if threshold is None else _check_threshold(threshold)
        self._session = make_session(bundle.onnx_bytes, providers=providers, threads=threads)
        names = [i.name for i in self._session.get_inputs()], [o.name for o in self._session.get_outputs()]
        if names != (list(INPUT_NAMES), [OUTPUT_NAME]):
            raise BundleError("model.onnx", f"session inputs/outputs are {names}")
        self._answers = bundle.vocab.answers
        self._outputs = [OUTPUT_NAME]

    @classmethod
    def load(cls, bundle_dir: str | Path, *, threads: int | None = None, providers: Sequence[str] | None = None,
             threshold: float | None = None) -> QAModel:
        """Check and load the bundle at ``bundle_dir``.

        Args:
            bundle_dir: directory written by ``qa-export``.
            threads: onnxruntime intra-op threads (default 1: fastest for a model this small).
            providers: onnxruntime execution providers (default CPU only).
            threshold: confidence needed for ``known``; default: the manifest's.

        Raises:
            BundleError: the bundle is missing, incomplete, modified or inconsistent, or a
                requested provider is unavailable.
        """
        return cls(load_bundle(bundle_dir), threads=threads, providers=providers, threshold=threshold)

    def encode(self, question: str) -> list[int]:
        """Token ids of ``question`` as the model sees them (unknown → ``<UNK>``, cut to ``max_len``).

        Raises:
            TypeError: ``question`` is not a string.
            ValueError: it is empty, blank, or has no tokens.
        """
        if not isinstance(question, str):
            raise TypeError(f"question must be a str, got {type(question).__name__}")
        ids = self.vocab.encode(question, self.max_len)
        if not ids:
            raise ValueError("question is empty" if not question.strip() else "question has no words")
        return ids

    def logits(self, questions: Sequence[str]) -> np.ndarray:
        """Raw scores ``(len(questions), num_answers)`` float32, from one onnxruntime call."""
        rows = [self.encode(q) for q in questions]
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        ids = np.full((len(rows), int(lengths.max())), PAD_ID, dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
        return self._run(ids, lengths)

    def probabilities(self, questions: Sequence[str]) -> np.ndarray:
        """Softmax over answers, ``(len(questions), num_answers)`` float64."""
        return _softmax(self.logits(questions))

    def answer(self, question: str) -> Answer:
        """The best answer to ``question`` (see :meth:`encode` for the errors it raises)."""
        row = self.encode(question)  # one row needs no padding: this hot path does the least it can
        scores = self._run(np.array([row], dtype=np.int64), np.array([len(row)], dtype=np.int64))
        with np.errstate(over="ignore"):
            exps = np.exp(scores[0], dtype=np.float64)
        total = float(exps.sum())
        if not math.isfinite(total):  # a logit past ~709: shift, as _exp does
            exps = _exp(scores)[0]
            total = float(exps.sum())
        best = int(exps.argmax())
        return self._make(best, float(exps[best]) / total)

    def answer_batch(self, questions: Sequence[str]) -> list[Answer]:
        """Best answers to many questions with one padded onnxruntime call."""
        if isinstance(questions, str):
            raise TypeError("answer_batch takes a sequence of questions, not one str")
        if not questions:
            return []
        if len(questions) == 1:
            return [self.answer(questions[0])]
        exps = _exp(self.logits(questions))
        best = exps.argmax(axis=1)
        confidence = np.take_along_axis(exps, best[:, None], axis=1)[:, 0] / exps.sum(axis=1)
        return [self._make(j, c) for j, c in zip(best.tolist(), confidence.tolist())]

    def top_k(self, question: str, k: int) -> list[Answer]:
        """The ``k`` most likely answers, best first."""
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        exps = _exp(self.logits([question]))[0]
        probs = exps / exps.sum()
        order = np.argsort(-probs, kind="stable")[:k]
        return [self._make(int(j), float(probs[j])) for j in order]

    def _run(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return self._session.run(self._outputs, {INPUT_NAMES[0]: ids, INPUT_NAMES[1]: lengths})[0]

    def _make(self, index: int, confidence: float) -> Answer:
        return Answer(self._answers[index], confidence, confidence >= self.threshold)


def _check_threshold(threshold: float) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")
    return float(threshold)


def _exp(logits: np.ndarray) -> np.ndarray:
    """``exp(logits)`` in float64, the numerator of softmax (rows, answers).

    Unshifted while that is safe (float64 overflows only past ~709, far beyond a trained model's
    logits); otherwise every row is shifted by its maximum, which leaves softmax unchanged.
    """
    with np.errstate(over="ignore"):
        exps = np.exp(logits, dtype=np.float64)
    if not np.isfinite(exps).all():
        exps = np.exp(logits - logits.max(axis=1, keepdims=True), dtype=np.float64)
    return exps


def _softmax(logits: np.ndarray) -> np.ndarray:
    exps = _exp(logits)
    return exps / exps.sum(axis=1, keepdims=True)
