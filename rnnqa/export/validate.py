"""Parity: every exported graph must answer as the eager model does. Checking only, no writing.

Inputs are chosen at sizes *other* than the tracing example (batch 2, length 4): batch 1, odd
batches, long and short rows mixed in one padded batch, random ids, and the training questions.
Checks run in order — output names, shapes, values, argmax, and the ONNX graph's own decoding
(``probabilities``, ``answer_index``, ``confidence``), and the single-question graph with the runtime's
gate on every row of every batch, unpadded — and every failure is collected before one
:class:`ParityError` lists them all. Values: softmax probabilities within ``atol``; logits within
``atol × max(1, largest |logit| of the row)``, because float32 rounding in a recurrent kernel grows
with the scale of the activations (an LSTM's logits of ±10 after 32 steps differ by ~1e-5 between
PyTorch's and onnxruntime's kernels while the probabilities agree to ~1e-6).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from rnnqa.bundle_format import INPUT_NAMES, OUTPUT_NAMES, SINGLE_OUTPUT_NAMES
from rnnqa.data.padding import pad_rows
from rnnqa.data.text import Vocabulary
from rnnqa.errors import ParityError
from rnnqa.runtime.gate import SubstitutionGate
from rnnqa.runtime.session import ORT_ERRORS, make_session
from rnnqa.train.model import QAClassifier

Batch = tuple[np.ndarray, np.ndarray]  # (input_ids (B, T) int64, lengths (B,) int64)
Runner = Callable[[np.ndarray, np.ndarray], Sequence[np.ndarray]]  # logits first, then any decoding outputs

DEFAULT_ATOL = 1e-5
SINGLE = "single"  # the single-question graph's name in the report
SWAP_PROBES = 64  # training questions rewritten with one content word swapped, to exercise the gate


@dataclass
class ParityReport:
    rows: int = 0  # rows checked per format
    batches: int = 0
    shapes: list[list[int]] = field(default_factory=list)  # (B, T) of each batch
    max_abs_diff: dict[str, float] = field(default_factory=dict)  # logits, per exported format
    max_prob_diff: dict[str, float] = field(default_factory=dict)  # softmax probabilities, per format
    atol: float = DEFAULT_ATOL

    single_rows: int = 0  # rows checked one by one on the single-question graph (with the runtime's gate)
    failures: list[str] = field(default_factory=list)  # every check that failed

    @property
    def passed(self) -> bool:
        """Rows were checked, no check failed, and every probability is within ``atol`` of the eager one."""
        return (self.rows > 0 and not self.failures and bool(self.max_prob_diff)
                and all(diff <= self.atol for diff in self.max_prob_diff.values()))

    def to_json(self) -> dict:
        return {"rows": self.rows, "batches": self.batches, "shapes": self.shapes, "atol": self.atol,
                "max_abs_diff": self.max_abs_diff, "max_prob_diff": self.max_prob_diff,
                "single_rows": self.single_rows, "passed": self.passed}

    def summary(self) -> str:
        diffs = ", ".join(
            f"{name} {diff:.1e} / {self.max_prob_diff[name]:.1e}" for name, diff in self.max_abs_diff.items()
        )
        single = (f"; single-question graph on {self.single_rows} rows: confidence {self.max_prob_diff[SINGLE]:.1e}"
                  if self.single_rows else "")
        return (f"parity OK on {self.rows} rows in {self.batches} batches "
                f"(max |diff| logits / probabilities: {diffs}{single}; atol {self.atol:g})")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis of ``(rows, answers)`` logits, in float64, shifted by each row's
    maximum so that no logit can overflow ``exp``."""
    exps = np.exp(logits - logits.max(axis=-1, keepdims=True), dtype=np.float64)
    return exps / exps.sum(axis=-1, keepdims=True)


def parity_batches(vocab: Vocabulary, questions: Sequence[str], max_len: int, seed: int = 0,
                   content: Collection[int] = ()) -> list[Batch]:
    """Padded batches of the training questions (sizes 1, 3, 7, rest) and of random ids; with the
    substitution gate's ``content`` words, also a batch of training questions with one content word
    swapped for another (what the gate halves, or a taught question it must not)."""
    rows = [vocab.encode(q, max_len) for q in questions]
    rows = [r for r in rows if r]
    rng = np.random.default_rng(seed)
    words, content = sorted(content), set(content)
    swaps = []
    for row in rows[:SWAP_PROBES] if len(words) > 1 else []:
        spots = [i for i, t in enumerate(row) if t in content]
        if spots:
            swapped = list(row)
            swapped[spots[int(rng.integers(len(spots)))]] = words[int(rng.integers(len(words)))]
            swaps.append(swapped)
    batches, start = [], 0
    for size in (1, 3, 7, len(rows)):
        if start < len(rows):
            batches.append(pad_rows(rows[start : start + size]))
            start += size
    for size in (1, 5, 11):
        lengths = rng.integers(1, max_len + 1, size=size)
        lengths[0] = max_len  # one row as long as allowed, the rest shorter: mixed in one batch
        batches.append(pad_rows([list(rng.integers(0, len(vocab), size=n)) for n in lengths]))
    batches.append(pad_rows([[int(rng.integers(2, len(vocab)))]]))  # a single token, batch 1
    if swaps:
        batches.append(pad_rows(swaps))
    return batches


def eager_runner(model: QAClassifier) -> Runner:
    """Eager logits, and each row's substitution-gate factor for its argmax (rnnqa.train.gate)."""

    def run(ids: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            ids_t, lengths_t = torch.from_numpy(ids), torch.from_numpy(lengths)
            logits = model.eval()(ids_t, lengths_t)
            return logits.numpy(), model.answer_scale(ids_t, lengths_t, logits.argmax(dim=1)).numpy()

    return run


def torchscript_runner(path: Path) -> Runner:
    scripted = torch.jit.load(str(path), map_location="cpu")

    def run(ids: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray]:
        with torch.no_grad():
            return (scripted(torch.from_numpy(ids), torch.from_numpy(lengths)).numpy(),)

    return run


def validate_parity(
    model: QAClassifier,
    batches: Sequence[Batch],
    torchscript_path: Path,
    onnx_path: Path,
    atol: float = DEFAULT_ATOL,
    single_path: Path | None = None,
    gate: SubstitutionGate | None = None,
) -> ParityReport:
    """Compare eager, TorchScript and onnxruntime on every batch, and with ``single_path``, the
    single-question graph (plus ``gate``, as the runtime applies it) on every row of them.

    Returns:
        The report (rows, batch shapes, max abs diff per format) when every check passes.

    Raises:
        ParityError: listing every failed check (names, shapes, values, argmax) of every batch.
    """
    failures: list[str] = []
    session = make_session(onnx_path)
    input_names = [i.name for i in session.get_inputs()]
    output_names = [o.name for o in session.get_outputs()]
    if input_names != list(INPUT_NAMES):
        failures.append(f"onnx: inputs are {input_names}, expected {list(INPUT_NAMES)}")
    if output_names != list(OUTPUT_NAMES):
        failures.append(f"onnx: outputs are {output_names}, expected {list(OUTPUT_NAMES)}")

    def onnx_run(ids: np.ndarray, lengths: np.ndarray) -> Sequence[np.ndarray]:
        return session.run(None, dict(zip(input_names, (ids, lengths))))

    runners = {"torchscript": torchscript_runner(torchscript_path), "onnx": onnx_run}
    eager = eager_runner(model)
    report = ParityReport(atol=atol, max_abs_diff=dict.fromkeys(runners, 0.0), max_prob_diff=dict.fromkeys(runners, 0.0))
    single = None if single_path is None else make_session(single_path)
    if single is not None:
        report.max_prob_diff[SINGLE] = 0.0
    for ids, lengths in batches:
        expected, scale = eager(ids, lengths)
        report.batches += 1
        report.rows += len(lengths)
        report.shapes.append(list(ids.shape))
        for name, run in runners.items():
            failures.extend(_compare(name, run, ids, lengths, expected, scale, atol, report))
        if single is not None:
            failures.extend(_compare_single(single, gate, ids, lengths, expected, scale, atol, report))
    report.failures = failures
    if not report.passed:
        raise ParityError(failures or [f"no rows checked, or a probability beyond atol {atol:g}"])
    return report


def _compare(name, run, ids, lengths, expected, scale, atol, report) -> list[str]:
    where = f"{name} at batch {ids.shape[0]}×{ids.shape[1]}"
    try:
        got, *decoded = (np.asarray(out) for out in run(ids, lengths))
    except ORT_ERRORS as exc:
        return [f"{where}: failed to run: {str(exc).splitlines()[0]}"]
    if got.shape != expected.shape:
        return [f"{where}: output shape {got.shape}, eager {expected.shape}"]
    if got.dtype != np.float32:
        return [f"{where}: output dtype {got.dtype}, expected float32"]
    abs_diff = np.abs(got.astype(np.float64) - expected)
    diff = float(abs_diff.max()) if got.size else 0.0
    report.max_abs_diff[name] = max(report.max_abs_diff[name], diff)
    problems = []
    row_tol = atol * np.maximum(1.0, np.abs(expected).max(axis=1, keepdims=True))
    if np.any(abs_diff > row_tol):
        problems.append(f"{where}: logits max |diff| {diff:.2e} exceeds atol {atol:g} × max(1, |logit|)")
    prob_diff = float(np.max(np.abs(softmax(got) - softmax(expected)))) if got.size else 0.0
    report.max_prob_diff[name] = max(report.max_prob_diff[name], prob_diff)
    if prob_diff > atol:
        problems.append(f"{where}: probabilities max |diff| {prob_diff:.2e} exceeds atol {atol:g}")
    mismatched = int(np.sum(got.argmax(1) != expected.argmax(1)))
    if mismatched:
        problems.append(f"{where}: argmax differs on {mismatched} of {len(lengths)} row(s)")
    if decoded:
        problems.extend(_compare_decoding(where, decoded, expected, scale, atol, report, name))
    return problems


def _compare_decoding(where, decoded, expected, scale, atol, report, name) -> list[str]:
    """The graph's ``probabilities`` must be the eager softmax times the eager gate factor, ``answer_index``
    the eager argmax and ``confidence`` the largest of those probabilities."""
    if len(decoded) != 3:
        return [f"{where}: {len(decoded)} decoding output(s), expected probabilities, answer_index, confidence"]
    probabilities, index, confidence = decoded
    rows = (expected.shape[0],)
    if probabilities.shape != expected.shape or probabilities.dtype != np.float32:
        return [f"{where}: probabilities {probabilities.dtype}{list(probabilities.shape)}, expected float32 "
                f"{list(expected.shape)}"]
    if index.shape != rows or index.dtype != np.int64 or confidence.shape != rows or confidence.dtype != np.float32:
        return [f"{where}: answer_index {index.dtype}{list(index.shape)} / confidence "
                f"{confidence.dtype}{list(confidence.shape)}, expected int64 / float32 of shape {list(rows)}"]
    problems = []
    mismatched = int(np.sum(index != expected.argmax(1)))
    if mismatched:
        problems.append(f"{where}: answer_index differs from the eager argmax on {mismatched} row(s)")
    want = softmax(expected) * scale[:, None]
    diff = float(max(np.max(np.abs(probabilities - want)), np.max(np.abs(confidence - want.max(1))))) if rows[0] else 0.0
    report.max_prob_diff[name] = max(report.max_prob_diff[name], diff)
    if diff > atol:
        problems.append(f"{where}: probabilities/confidence max |diff| {diff:.2e} exceeds atol {atol:g}")
    return problems


def _compare_single(session, gate, ids, lengths, expected, scale, atol, report) -> list[str]:
    """Each row alone, unpadded, through the single-question graph and ``gate``: the eager argmax, and the
    eager softmax maximum times the eager gate factor."""
    want = softmax(expected).max(axis=1) * scale
    problems = []
    for i, n in enumerate(lengths.tolist()):
        row = ids[i, :n]
        where = f"{SINGLE} on a {n}-token row"
        try:
            (probabilities,) = session.run(list(SINGLE_OUTPUT_NAMES), {INPUT_NAMES[0]: row[:, None]})
        except ORT_ERRORS as exc:
            return [f"{where}: failed to run: {str(exc).splitlines()[0]}"]
        if probabilities.shape != (1, expected.shape[1]) or probabilities.dtype != np.float32:
            return [f"{where}: probabilities {probabilities.dtype}{list(probabilities.shape)}, expected float32 "
                    f"of shape [1, {expected.shape[1]}]"]
        answer = int(probabilities[0].argmax())
        if answer != int(expected[i].argmax()):
            problems.append(f"{where}: argmax {answer}, eager argmax {int(expected[i].argmax())}")
            continue
        got = float(probabilities[0, answer]) * (1.0 if gate is None else gate.scale(row.tolist(), answer))
        diff = abs(got - float(want[i]))
        report.max_prob_diff[SINGLE] = max(report.max_prob_diff[SINGLE], diff)
        if diff > atol:
            problems.append(f"{where}: confidence {got:.6f}, eager {float(want[i]):.6f} (atol {atol:g})")
        report.single_rows += 1
    return problems
