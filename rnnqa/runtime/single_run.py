"""One question through ``model_single.onnx``: the runtime's hot path (docs/edge.md, "Around the graph")."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence

import numpy as np
import onnxruntime as ort

from rnnqa.bundle_format import SINGLE_OUTPUT_NAMES, SINGLE_OUTPUT_NAMES_4
from rnnqa.runtime.session import bare_run

Run = Callable[[Sequence[int]], tuple[int, float]]


def single_run(session: ort.InferenceSession, input_name: str, max_len: int) -> Run:
    """``run(row) → (index, probability)``: the best answer for one row of token ids (fed as ``input_name``
    [len(row), 1]) and its softmax probability, from a single-question graph — the format-5 one, which
    outputs the softmax (``probabilities`` [1, answers]: the argmax is taken here), or format 4's, which
    outputs both ([1, 1] each).

    A CPU-only session runs on buffers bound once (IOBinding): the row is written into a preallocated int64
    array of its length (one per length up to ``max_len``, bound at its first use) and onnxruntime writes
    its output into a preallocated array, so no array is built, wrapped or returned per call (about 1.9 µs
    of a 13 µs run, BENCHMARKS.md). One caller at a time holds those buffers; a caller that finds them held
    (another thread's answer; the lock is the run's ``lock`` attribute) feeds a new array to
    :func:`bare_run`, as any other session always does. Both ways pass one ``RunOptions`` made here: given
    none, onnxruntime builds a default one on every call (0.6–1.0 µs of the run, docs/edge.md).
    Both ways give the same answers (tested); the caller checks a probe at load.

    Raises:
        ValueError: the session's outputs are neither form.
    """
    names = tuple(o.name for o in session.get_outputs())
    if names not in (SINGLE_OUTPUT_NAMES, SINGLE_OUTPUT_NAMES_4):
        raise ValueError(f"not a single-question graph: outputs {list(names)}")
    decoded = names == SINGLE_OUTPUT_NAMES_4

    def best(outputs: Sequence[np.ndarray]) -> tuple[int, float]:
        """(index, probability) from the graph's outputs: format 4's pair, or the argmax of format 5's softmax."""
        if decoded:
            return outputs[0].item(), outputs[1].item()
        probabilities = outputs[0].reshape(-1)
        index = int(probabilities.argmax())
        return index, probabilities.item(index)

    plain = bare_run(session)
    fetches = list(names)
    options = ort.RunOptions()  # read-only during a run: shared by every call, in any thread

    def run_plain(row: Sequence[int]) -> tuple[int, float]:
        return best(plain(fetches, {input_name: np.array(row, np.int64)[:, None]}, options))

    binding = getattr(session, "_sess", None)
    if (session.get_providers() != ["CPUExecutionProvider"]  # keep the wrapper's provider fall-back
            or not callable(getattr(binding, "run_with_iobinding", None))):
        return run_plain
    answers = session.get_outputs()[0].shape[1] if not decoded else 1
    if not isinstance(answers, int):
        return run_plain
    results = ([np.zeros((1, 1), np.int64), np.zeros((1, 1), np.float32)] if decoded
               else [np.zeros((1, answers), np.float32)])
    bound: list[tuple[np.ndarray, object] | None] = [None] * (max_len + 1)  # by row length
    bindings = []  # the IOBinding wrappers, kept with the arrays they bind

    def bind(length: int) -> tuple[np.ndarray, object]:
        ids = np.zeros((length, 1), np.int64)
        io = session.io_binding()
        io.bind_ortvalue_input(input_name, ort.OrtValue.ortvalue_from_numpy(ids))
        for name, array in zip(names, results):
            io.bind_ortvalue_output(name, ort.OrtValue.ortvalue_from_numpy(array))
        bindings.append(io)
        bound[length] = entry = ids.reshape(length), io._iobinding  # the flat view writes into ids
        return entry

    lock = threading.Lock()
    acquire, release, run_bound = lock.acquire, lock.release, binding.run_with_iobinding
    if decoded:
        read = functools.partial(best, results)
    else:
        flat = results[0].reshape(answers)
        argmax, item = flat.argmax, flat.item

        def read() -> tuple[int, float]:  # best(results), without its branch and indexing: the hot path
            index = int(argmax())
            return index, item(index)

    def run(row: Sequence[int]) -> tuple[int, float]:
        n = len(row)
        if not 0 < n <= max_len or not acquire(False):
            return run_plain(row)
        try:
            ids, io = bound[n] or bind(n)
            ids[:] = row
            run_bound(io, options)
            return read()  # inside the lock: the next holder overwrites the outputs
        finally:
            release()
    run.lock = lock  # held while a call uses the bound buffers
    return run
