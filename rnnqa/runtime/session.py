"""The one place an onnxruntime session is built."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as _ort_state

from rnnqa.errors import BundleError

# A tiny model answers fastest on one intra-op thread: more threads only add hand-off cost
# (measured in BENCHMARKS.md). Callers may override.
DEFAULT_INTRA_OP_THREADS = 1

# What onnxruntime raises for a file it cannot load or run (its classes derive from Exception only).
ORT_ERRORS = tuple(
    getattr(_ort_state, name)
    for name in ("Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf", "NoSuchFile", "NotImplemented",
                 "RuntimeException")
    if hasattr(_ort_state, name)
) + (RuntimeError,)


def make_session(
    model: str | Path | bytes,
    *,
    providers: Sequence[str] | None = None,
    threads: int | None = None,
    ort_format: bool = False,
    name: str | None = None,
    arena: bool = True,
) -> ort.InferenceSession:
    """Build an :class:`onnxruntime.InferenceSession` for ``model``.

    Args:
        model: the ONNX file, or its bytes (already verified by the caller).
        providers: execution providers in priority order; default ``["CPUExecutionProvider"]``.
        threads: intra-op threads; default :data:`DEFAULT_INTRA_OP_THREADS`.
        ort_format: ``model`` is in onnxruntime's ORT format (``model.ort``), not ONNX.
        name: the file the errors name (default: the path's name; for bytes, model.ort or model.onnx).
        arena: onnxruntime's CPU memory arena; without it, each run's intermediate tensors come from malloc
            (the single-question graph's few small ones: ~1 µs less per answer, docs/edge.md).

    Raises:
        BundleError: a requested provider is not available, ``threads`` is invalid, or
            onnxruntime cannot load the file.
    """
    if name is None:
        name = ("model.ort" if ort_format else "model.onnx") if isinstance(model, bytes) else Path(model).name
    providers = list(providers or ["CPUExecutionProvider"])
    available = ort.get_available_providers()
    missing = [p for p in providers if p not in available]
    if missing:
        raise BundleError(
            name,
            f"execution provider(s) {', '.join(missing)} not available (have: {', '.join(available)})",
        )
    threads = DEFAULT_INTRA_OP_THREADS if threads is None else threads
    if not isinstance(threads, int) or threads < 1:
        raise BundleError(name, f"threads must be a positive integer, got {threads!r}")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: warnings would go to the app's stderr
    options.enable_cpu_mem_arena = arena
    if ort_format:
        options.add_session_config_entry("session.load_model_format", "ORT")
    try:
        source = model if isinstance(model, bytes) else str(model)
        return ort.InferenceSession(source, sess_options=options, providers=providers)
    except ORT_ERRORS as exc:
        raise BundleError(name, f"onnxruntime cannot load it: {exc}") from exc


def bare_run(session: ort.InferenceSession) -> Callable:
    """``session.run`` without the Python wrapper's per-call re-checks of the feed names (the caller feeds
    exactly the inputs checked at load) — about 0.4 µs of a 13 µs one-question run. The wrapper's only
    other job, falling back to the CPU provider after an accelerator's failure, cannot apply to a CPU-only
    session; any other session, or an onnxruntime without the binding, keeps ``session.run``."""
    binding = getattr(session, "_sess", None)
    if binding is None or session.get_providers() != ["CPUExecutionProvider"] or not callable(getattr(binding, "run", None)):
        return session.run
    return binding.run
