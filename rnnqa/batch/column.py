"""Answering a column of stored questions: one engine-free function every batch engine calls.

``answer_column`` is what ``qa-ask --input`` calls per chunk of a file, what the Ray Data engine calls per
batch (through :class:`BatchAnswerer`), and what a Dask ``map_partitions`` or Spark ``predict_batch_udf``
user calls in a few lines (docs/batch.md). It never raises for a bad row: a question that is not a
non-empty string gets an ``error`` and no answer, and the other rows of the batch are answered. numpy and
onnxruntime only, like the rest of the runtime.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from rnnqa.runtime.model import QAModel

QUESTION_COLUMN = "question"
ANSWER_COLUMNS = ("answer", "confidence", "known", "error")  # the columns a batch gains, in this order


def answer_fields(pa) -> list:
    """The Arrow fields of :data:`ANSWER_COLUMNS`, for the ``pyarrow`` module ``pa`` (imported by the caller:
    this module never imports pyarrow)."""
    return [pa.field("answer", pa.string()), pa.field("confidence", pa.float64()), pa.field("known", pa.bool_()),
            pa.field("error", pa.string())]


def answer_column(model: QAModel, questions: Iterable[object]) -> dict[str, list]:
    """Answer every question of a batch with one onnxruntime call.

    Args:
        model: a loaded :class:`QAModel` (its bundle is pinned for the whole batch, so a concurrent
            :meth:`~QAModel.reload` never mixes two bundles in one batch).
        questions: the batch's ``question`` column: a list, a numpy array, a pandas Series, …

    Returns:
        ``{"answer", "confidence", "known", "error"}``, one list each, in the order of ``questions``.
        A good row has the best answer's text (verbatim from the training data, as ``qa-ask --json``
        reports it), its confidence and whether it reaches the bundle's threshold (else an app shows
        "I don't know"), and ``error`` None. A bad row (missing, not a string, empty, no tokens) has
        ``answer``, ``confidence`` and ``known`` None and ``error`` saying why.
    """
    view = model.pinned()
    rows: list[list[int]] = []
    at: list[int] = []  # the position of each encoded row in the batch
    errors: list[str | None] = []
    for i, question in enumerate(questions):
        try:
            if not isinstance(question, str):  # None, NaN, a number …: never its repr, answered
                raise TypeError(f"question must be text, got {_kind(question)}")
            rows.append(view.encode(question))
            at.append(i)
            errors.append(None)
        except (TypeError, ValueError) as exc:
            errors.append(str(exc))
    n = len(errors)
    answer: list[str | None] = [None] * n
    confidence: list[float | None] = [None] * n
    known: list[bool | None] = [None] * n
    for i, best in zip(at, view.answer_rows(rows)):
        answer[i], confidence[i], known[i] = best.text, best.confidence, best.known
    return {"answer": answer, "confidence": confidence, "known": known, "error": errors}


class BatchAnswerer:
    """A batch → the same batch with the four answer columns added; loads its bundle once.

    The callable class Ray Data's ``map_batches`` wants: each actor builds one in its ``__init__`` and calls
    it per batch. A batch is a dict of numpy arrays (``batch_format="numpy"``) or a ``pyarrow.Table``
    (``batch_format="pyarrow"``, which ``qa-ask --engine ray`` uses: the other columns then pass through as
    Arrow has them, where a numpy round trip would turn nested or mixed columns into Python objects).
    Nothing in it is Ray's.

    Args:
        bundle_dir: directory written by ``qa-export``.
        column: the column holding the questions.
        threshold: confidence needed for ``known``; default: the manifest's.
        threads: onnxruntime intra-op threads (default 1).
        public_key: the key the bundle must be signed with (default: ``$RNNQA_PUBLIC_KEY``, else none).
    """

    def __init__(self, bundle_dir: str | Path, column: str = QUESTION_COLUMN, *, threshold: float | None = None,
                 threads: int | None = None, public_key: str | Path | None = None):
        self.model = QAModel.load(bundle_dir, threshold=threshold, threads=threads, public_key=public_key)
        self.column = column

    def __call__(self, batch):
        """``batch`` with ``answer``, ``confidence``, ``known`` and ``error`` added: object arrays (None where
        a row has no value) for a dict of arrays; string, float64, bool and string columns for a table."""
        if hasattr(batch, "append_column"):  # a pyarrow.Table, told apart without importing pyarrow
            return _append_arrow(batch, answer_column(self.model, batch.column(self.column).to_pylist()))
        answers = answer_column(self.model, batch[self.column])
        out = dict(batch)
        for name in ANSWER_COLUMNS:
            values = np.empty(len(answers[name]), dtype=object)  # never a 2-D or str-typed array
            values[:] = answers[name]
            out[name] = values
        return out


def _append_arrow(table, answers: dict[str, list]):
    import pyarrow as pa  # loaded already: the table is one of its objects

    for field in answer_fields(pa):
        table = table.append_column(field, pa.array(answers[field.name], field.type))
    return table


def _kind(value: object) -> str:
    if value is None:
        return "nothing (a missing value)"
    if isinstance(value, float) and value != value:
        return "nothing (a missing value, NaN)"
    return type(value).__name__
