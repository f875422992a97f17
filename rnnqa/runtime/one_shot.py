"""Answers for a process that starts, answers and ends (``qa-ask QUESTION...``), without numpy or onnxruntime's
Python package: the bundle's graphs run through onnxruntime's C API (:mod:`rnnqa.runtime.capi`).

:func:`~rnnqa.runtime.bundle.load_checked` reads a bundle as :meth:`QAModel.load <rnnqa.runtime.model.QAModel.load>`
does, through the same function (every hash, ``$RNNQA_PUBLIC_KEY``'s signature, vocabulary, graph interfaces),
and :meth:`OneShotModel.serve` makes both graphs answer the probe question QAModel asks, checked as QAModel
checks them; its :meth:`~OneShotModel.answer` then gives QAModel's answers (tested on every question of the
conformance file). Where anything differs from that path (no single-question graph, no C library, a graph
onnxruntime refuses, a probe that fails), ``serve`` returns None before or without loading onnxruntime's library
where it can, and the caller builds a QAModel on the same checked bundle, which answers or says why as it always
has.
"""

from __future__ import annotations

import ctypes
import math

from rnnqa.bundle_format import (ANSWER_INDEX, CONFIDENCE, INPUT_NAMES, LOGITS, PROBABILITIES, SINGLE_OUTPUT_NAMES_4)
from rnnqa.runtime.answer import Answer, make_answer
from rnnqa.runtime.bundle import Bundle
from rnnqa.runtime.capi import Api, OrtError, Session, load_api

PROBE_TOLERANCE = 1e-4  # QAModel's: model_single.onnx's probe confidence against model.onnx's softmax


class _Refused(Exception):
    """A probe answer QAModel would refuse: QAModel is left to say so."""


def best(values) -> tuple[int, float]:
    """numpy's ``(argmax, max)`` of a ctypes float array: the first of equal maxima, or the first NaN where
    there is one (numpy's argmax takes it too; its confidence then fails every threshold)."""
    if math.isnan(sum(values)):  # some value is NaN (probabilities: no infinities to cancel)
        for index, value in enumerate(values):
            if value != value:
                return index, value
    index = max(range(len(values)), key=values.__getitem__)
    return index, values[index]


class OneShotModel:
    """:meth:`answer` for one bundle with a single-question graph. Not for threads: one caller at a time."""

    def __init__(self, api: Api, bundle: Bundle, probe: tuple[int, float]):
        """Use :meth:`open`."""
        self.bundle, self.threshold = bundle, bundle.threshold
        self._encode = bundle.vocab.question_encoder(bundle.max_len)
        self._answers = bundle.vocab.answers
        self._scale = None if bundle.gate is None else bundle.gate.scale
        self._session = Session(api, bundle.single_bytes)
        self._ids = self._session.buffer("int64", bundle.max_len)
        self._bound: dict[int, int] = {}  # row length → its binding
        if bundle.manifest["format_version"] == 4:  # the graph decodes: [1, 1] each
            index, confidence = self._session.buffer("int64", 1), self._session.buffer("float32", 1)
            self._outputs = [(SINGLE_OUTPUT_NAMES_4[0], index, [1, 1]), (SINGLE_OUTPUT_NAMES_4[1], confidence, [1, 1])]
            self._read = lambda: (index[0], confidence[0])
        else:
            probabilities = self._session.buffer("float32", len(self._answers))
            self._outputs = [(PROBABILITIES, probabilities, [1, len(self._answers)])]
            self._read = lambda: best(probabilities)
        got = self._run([bundle.vocab.unk_id])
        if got[0] != probe[0] or not abs(got[1] - probe[1]) <= PROBE_TOLERANCE:  # a NaN fails too
            raise _Refused(f"model_single.onnx answers the probe with {got}, model.onnx with {probe}")

    @classmethod
    def serve(cls, bundle: Bundle) -> OneShotModel | None:
        """A model answering from ``bundle`` (from :func:`~rnnqa.runtime.bundle.load_checked`) once both graphs passed the probe; None
        where this path does not apply (module comment: build a QAModel on ``bundle`` then)."""
        if bundle.single_bytes is None:  # int8, format 3, large models: onnxruntime's library is not even loaded
            return None
        api = load_api()
        if api is None:
            return None
        try:
            return cls(api, bundle, _probe(api, bundle))
        except (OrtError, _Refused):
            return None

    def answer(self, question: str) -> Answer:
        """QAModel.answer's answer to ``question``, with its errors (QuestionTypeError, QuestionError).

        Raises:
            OrtError: onnxruntime failed the run (QAModel raises onnxruntime's own error there).
        """
        row = self._encode(question)
        index, confidence = self._run(row)
        if self._scale is not None:
            confidence *= self._scale(row, index)
        return make_answer(self._answers[index], confidence, confidence >= self.threshold)

    def close(self) -> None:
        """Release onnxruntime's objects now rather than when this model is collected."""
        self._session.close()

    def _run(self, row: list[int]) -> tuple[int, float]:
        n = len(row)
        binding = self._bound.get(n)
        if binding is None:
            view = (ctypes.c_int64 * n).from_buffer(self._ids)
            binding = self._bound[n] = self._session.bind([(INPUT_NAMES[0], view, [n, 1])], self._outputs)
        self._ids[:n] = row
        self._session.run(binding)
        return self._read()


def _probe(api: Api, bundle: Bundle) -> tuple[int, float]:
    """model.onnx's answer to the probe question QAModel asks (one ``<UNK>``), checked as QAModel checks it: its
    argmax and softmax maximum before any substitution gate (what model_single.onnx must answer).

    Raises:
        OrtError: onnxruntime refuses the graph or the run.
        _Refused: the answer is not a valid one.
    """
    session = Session(api, bundle.onnx_bytes)
    try:
        count = len(bundle.vocab.answers)
        ids, lengths = session.buffer("int64", 1), session.buffer("int64", 1)
        ids[0], lengths[0] = bundle.vocab.unk_id, 1
        logits, probabilities = session.buffer("float32", count), session.buffer("float32", count)
        index, confidence = session.buffer("int64", 1), session.buffer("float32", 1)
        session.run(session.bind([(INPUT_NAMES[0], ids, [1, 1]), (INPUT_NAMES[1], lengths, [1])],
                                 [(LOGITS, logits, [1, count]), (PROBABILITIES, probabilities, [1, count]),
                                  (ANSWER_INDEX, index, [1]), (CONFIDENCE, confidence, [1])]))
    finally:
        session.close()
    scores = list(logits)
    if not all(map(math.isfinite, scores)) or not 0 <= index[0] < count or not 0.0 <= confidence[0] <= 1.0:
        raise _Refused(f"model.onnx answers the probe with answer_index {index[0]}, confidence {confidence[0]}")
    best = max(scores)
    return scores.index(best), 1.0 / math.fsum(math.exp(s - best) for s in scores)
