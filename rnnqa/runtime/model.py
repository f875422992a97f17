"""The answer API: a bundle in, answers out. numpy and onnxruntime only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from rnnqa.bundle_format import (ANSWER_INDEX, CONFIDENCE, INPUT_NAMES, LOGITS, ONNX_FILE, ORT_FILE, OUTPUT_NAMES,
                                 PROBABILITIES, SIGNATURE_FILE, SINGLE_FILE)
from rnnqa.data.padding import pad_rows
from rnnqa.errors import BundleError, ConfigError, QuestionTypeError
from rnnqa.runtime.answer import UNKNOWN_TEXT, Answer
from rnnqa.runtime.answer import make_answer as _answer
from rnnqa.runtime.bundle import Bundle, load_bundle, load_checked
from rnnqa.runtime.gate import SubstitutionGate
from rnnqa.runtime.session import ORT_ERRORS, make_session
from rnnqa.runtime.single_run import Run, single_run
from rnnqa.runtime.signature import PublicKey, resolve_public_key

GRAPHS = ("onnx", "ort")  # which of a bundle's graph files a QAModel runs
_DECODED = [ANSWER_INDEX, CONFIDENCE]  # what answering reads: the graph decodes (bundle_format)


@dataclass(frozen=True)
class _Serving:
    """Everything one answer needs, swapped as a whole by :meth:`QAModel.reload`."""

    bundle: Bundle
    session: ort.InferenceSession
    threshold: float
    max_len: int
    single: ort.InferenceSession | None = None  # model_single.onnx: what answer() runs, when the bundle has it
    run_single: Run | None = field(default=None, repr=False)  # single's run on buffers bound once (single_run)
    gate: SubstitutionGate | None = None  # applied to single's answers (model.onnx applies it itself)
    # Derived for answer(): the vocabulary's look-ups.
    answers: tuple[str, ...] = field(init=False, repr=False)
    encode: Callable[[str], list[int]] = field(init=False, repr=False)
    scale: Callable[[Sequence[int], int], float] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "answers", self.bundle.vocab.answers)
        object.__setattr__(self, "encode", self.bundle.vocab.question_encoder(self.max_len))
        object.__setattr__(self, "scale", None if self.gate is None else self.gate.scale)


class QAModel:
    """Answers questions from a bundle written by ``qa-export``. Safe to share between threads:
    every call reads the serving state once, so a :meth:`reload` never mixes two bundles."""

    def __init__(self, bundle: Bundle, *, threads: int | None = None, providers: Sequence[str] | None = None,
                 threshold: float | None = None, public_key: str | Path | PublicKey | None = None,
                 graph: str = "onnx"):
        if graph not in GRAPHS:
            raise ConfigError(f"graph must be one of {', '.join(GRAPHS)}, got {graph!r}")
        self._threads, self._providers, self._graph = threads, providers, graph
        self._threshold = None if threshold is None else _check_threshold(threshold)
        self._public_key = resolve_public_key(public_key)
        self._state = self._serve(bundle)

    @classmethod
    def load(cls, bundle_dir: str | Path, *, threads: int | None = None, providers: Sequence[str] | None = None,
             threshold: float | None = None, public_key: str | Path | PublicKey | None = None,
             graph: str = "onnx") -> QAModel:
        """Check and load the bundle at ``bundle_dir``.

        Args:
            bundle_dir: directory written by ``qa-export``.
            threads: onnxruntime intra-op threads (default 1: fastest for a model this small).
            providers: onnxruntime execution providers (default CPU only).
            threshold: confidence needed for ``known``; default: the manifest's.
            public_key: a PEM ECDSA public key (path): the bundle, and every bundle :meth:`reload` takes
                later, must carry a signature made with its private key over exactly its files. Default:
                the key named by ``$RNNQA_PUBLIC_KEY``, else none (signatures are not checked). Needs
                the ``sign`` extra.
            graph: ``onnx`` (``model.onnx``), or ``ort`` (``model.ort``, in bundles exported with
                ``qa-export --ort``: what an onnxruntime reduced build loads).

        Raises:
            BundleError: the bundle is missing, incomplete, modified or inconsistent, unsigned or not
                signed with ``public_key``, or a requested provider is unavailable.
            ConfigError: ``public_key`` (or ``$RNNQA_PUBLIC_KEY``) cannot be read as an ECDSA public key.
        """
        bundle, key = load_checked(bundle_dir, public_key=public_key)
        return cls(bundle, threads=threads, providers=providers,
                   threshold=threshold, public_key=key, graph=graph)

    def reload(self, bundle_dir: str | Path | None = None) -> None:
        """Serve the bundle at ``bundle_dir`` (default: the current one, re-read) — only once it has
        passed every loading check (with the key this model was loaded with, its signature) and
        answered a probe question. Calls in flight finish on the old bundle; on any error the old
        bundle keeps serving.

        Raises:
            BundleError: the new bundle was refused; nothing changed.
        """
        path = self._state.bundle.path if bundle_dir is None else bundle_dir
        self._state = self._serve(load_bundle(path, public_key=self._public_key))

    def _serve(self, bundle: Bundle) -> _Serving:
        if self._public_key is not None and bundle.signed_by != self._public_key.fingerprint:
            raise BundleError(SIGNATURE_FILE, f"the bundle was not verified with {self._public_key.path} "
                                              "(load it with QAModel.load and that key)")
        if self._graph == "ort" and bundle.ort_bytes is None:
            raise BundleError(ORT_FILE, "missing: this bundle has no ORT-format graph (export it with qa-export --ort)")
        graph = bundle.ort_bytes if self._graph == "ort" else bundle.onnx_bytes
        session = make_session(graph, providers=self._providers, threads=self._threads, ort_format=self._graph == "ort")
        names = [i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()]
        if names != (list(INPUT_NAMES), list(OUTPUT_NAMES)):
            raise BundleError(ONNX_FILE, f"session inputs/outputs are {names}")
        probe = np.array([[bundle.vocab.unk_id]], dtype=np.int64)
        try:
            logits, probs, index0, confidence = session.run(
                None, {INPUT_NAMES[0]: probe, INPUT_NAMES[1]: np.array([1], dtype=np.int64)})
        except ORT_ERRORS as exc:
            raise BundleError(ONNX_FILE, f"the graph fails on a probe question: {exc}") from exc
        answers = len(bundle.vocab.answers)
        if (logits.shape != (1, answers) or not np.isfinite(logits).all() or probs.shape != (1, answers)
                or index0.shape != (1,) or not 0 <= index0[0] < answers or confidence.shape != (1,)
                or not 0.0 <= confidence[0] <= 1.0):
            raise BundleError(ONNX_FILE, f"the graph answers a probe with logits {logits.shape}, answer_index "
                                         f"{index0.tolist()}, confidence {confidence.tolist()}: not a valid answer")
        threshold = bundle.threshold if self._threshold is None else self._threshold
        if self._graph != "onnx" or bundle.single_bytes is None:
            return _Serving(bundle, session, threshold, bundle.max_len)
        single, run = self._single(bundle, probe, logits[0])
        return _Serving(bundle, session, threshold, bundle.max_len, single, run, bundle.gate)

    def _single(self, bundle: Bundle, probe: np.ndarray, probe_logits: np.ndarray) -> tuple[ort.InferenceSession, Run]:
        """A session on model_single.onnx and its run (:func:`single_run`), which answers ``probe`` (one token:
        [1, 1] is both graphs' shape) as model.onnx did (``probe_logits``)."""
        single = make_session(bundle.single_bytes, providers=self._providers, threads=self._threads, name=SINGLE_FILE,
                              arena=False)  # its few small tensors come faster from malloc (make_session)
        shifted = np.exp(probe_logits - probe_logits.max())
        want = int(probe_logits.argmax()), float(shifted.max() / shifted.sum())  # before any substitution gate
        try:  # on the path answer() takes: the buffers bound for one token
            run = single_run(single, INPUT_NAMES[0], bundle.max_len)
            index, confidence = run(probe[0].tolist())
        except ORT_ERRORS as exc:
            raise BundleError(SINGLE_FILE, f"the graph fails on a probe question: {exc}") from exc
        except ValueError as exc:
            raise BundleError(SINGLE_FILE, str(exc)) from exc
        if index != want[0] or not abs(confidence - want[1]) <= 1e-4:  # a NaN fails too
            raise BundleError(SINGLE_FILE, f"answers a probe with {index} / {confidence}, but "
                                           f"{ONNX_FILE} with {want[0]} / {want[1]:.6f}")
        return single, run

    def pinned(self) -> QAModel:
        """A view of this model that keeps answering with the bundle served now, whatever :meth:`reload`
        does to this one later (a server uses it so one batch, and its reported bundle, is one bundle)."""
        view = object.__new__(QAModel)
        view.__dict__.update(self.__dict__)
        return view

    @property
    def bundle(self) -> Bundle:
        return self._state.bundle

    @property
    def vocab(self):
        return self._state.bundle.vocab

    @property
    def max_len(self) -> int:
        return self._state.bundle.max_len

    @property
    def threshold(self) -> float:
        return self._state.threshold

    def encode(self, question: str) -> list[int]:
        """Token ids of ``question`` as the model sees them (unknown → ``<UNK>``, cut to ``max_len``).

        Raises:
            QuestionTypeError (a TypeError): ``question`` is not a string.
            QuestionError (a ValueError): it is empty, blank, or has no tokens.
        """
        return self._state.encode(question)

    def logits(self, questions: Sequence[str]) -> np.ndarray:
        """Raw scores ``(len(questions), num_answers)`` float32, from one onnxruntime call."""
        return _run(self._state, questions, [LOGITS])[0]

    def probabilities(self, questions: Sequence[str]) -> np.ndarray:
        """Softmax over answers, ``(len(questions), num_answers)`` float32, computed by the graph
        (so :meth:`answer`'s ``confidence`` is exactly the largest of them). A bundle with the
        substitution gate halves the row of a taught question with one word swapped
        (``rnnqa.train.gate``), so such a row sums to 0.5."""
        return _run(self._state, questions, [PROBABILITIES])[0]

    def answer(self, question: str) -> Answer:
        """The best answer to ``question`` (see :meth:`encode` for the errors it raises).

        Runs the bundle's single-question graph where it has one (the leanest graph of the model, and
        the substitution gate in Python: rnnqa.runtime.gate), else ``model.onnx`` with one row."""
        state = self._state
        row = state.encode(question)
        run = state.run_single
        if run is not None:  # every name below is bound once, outside this call: it is the hot path
            index, confidence = run(row)
            scale = state.scale
            if scale is not None:
                confidence *= scale(row, index)
            return _answer(state.answers[index], confidence, confidence >= state.threshold)
        feeds = {INPUT_NAMES[0]: np.array([row], dtype=np.int64), INPUT_NAMES[1]: np.array([len(row)], dtype=np.int64)}
        index, confidence = state.session.run(_DECODED, feeds)  # the graph decodes: no numpy work left
        return _make(state, int(index[0]), float(confidence[0]))

    def answer_batch(self, questions: Sequence[str]) -> list[Answer]:
        """Best answers to many questions with one padded onnxruntime call."""
        if isinstance(questions, str):
            raise QuestionTypeError("answer_batch takes a sequence of questions, not one str")
        if len(questions) == 1:
            return [self.answer(questions[0])]
        state = self._state
        return _answers(state, [state.encode(q) for q in questions])

    def top_k(self, question: str, k: int) -> list[Answer]:
        """The ``k`` most likely answers, best first."""
        state = self._state
        return _ranked(state, [state.encode(question)], k)[0]

    def answer_rows(self, rows: Sequence[Sequence[int]]) -> list[Answer]:
        """:meth:`answer_batch` for questions already encoded by this model's :meth:`encode` — use a
        :meth:`pinned` view for both, so a reload between them cannot mix two vocabularies. A server
        encodes once, on the request path (where a bad question is refused), and batches the rows."""
        return _answers(self._state, rows)

    def top_k_rows(self, rows: Sequence[Sequence[int]], k: int) -> list[list[Answer]]:
        """:meth:`top_k` of each encoded row (see :meth:`answer_rows`), from one onnxruntime call."""
        return _ranked(self._state, rows, k)


def _run(state: _Serving, questions: Sequence[str], outputs: list[str]) -> list[np.ndarray]:
    """The graph's ``outputs`` for ``questions``, padded into one onnxruntime call."""
    if isinstance(questions, str):
        raise QuestionTypeError("expected a sequence of questions, not one str")
    return _run_rows(state, [state.encode(q) for q in questions], outputs)


def _run_rows(state: _Serving, rows: Sequence[Sequence[int]], outputs: list[str]) -> list[np.ndarray]:
    """The graph's ``outputs`` for encoded ``rows`` (none for no rows: onnxruntime aborts the process on an
    empty batch)."""
    if len(rows) == 0:
        shapes = {LOGITS: (0, len(state.bundle.vocab.answers)), PROBABILITIES: (0, len(state.bundle.vocab.answers))}
        return [np.zeros(shapes.get(name, (0,)), dtype=np.int64 if name == ANSWER_INDEX else np.float32)
                for name in outputs]
    ids, lengths = pad_rows(rows)
    return state.session.run(outputs, {INPUT_NAMES[0]: ids, INPUT_NAMES[1]: lengths})


def _answers(state: _Serving, rows: Sequence[Sequence[int]]) -> list[Answer]:
    index, confidence = _run_rows(state, rows, _DECODED)
    return [_make(state, j, c) for j, c in zip(index.tolist(), confidence.tolist())]


def _ranked(state: _Serving, rows: Sequence[Sequence[int]], k: int) -> list[list[Answer]]:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"k must be a positive integer, got {k!r}")
    (probs,) = _run_rows(state, rows, [PROBABILITIES])
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [[_make(state, int(j), float(p[j])) for j in row] for p, row in zip(probs, order)]


def _make(state: _Serving, index: int, confidence: float) -> Answer:
    return _answer(state.answers[index], confidence, confidence >= state.threshold)


def _check_threshold(threshold: float) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold must be a number in [0, 1], got {threshold!r}")
    return float(threshold)
