"""onnxruntime's C API through ctypes, on the library the onnxruntime wheel ships: a session on graph bytes, run
on buffers bound once. Standard library only: no numpy, and not onnxruntime's Python package.

Why: importing numpy and onnxruntime's Python binding is ~110 of a one-shot ``qa-ask``'s ~200 ms (BENCHMARKS.md,
cold start), while the wheel's ``capi/libonnxruntime.so`` (the same onnxruntime, built as a C library) loads in
~3 ms. :mod:`rnnqa.runtime.one_shot` answers one-shot questions through it; everything else keeps
:class:`~rnnqa.runtime.model.QAModel`.

The C API is a table of function pointers (``struct OrtApi`` in onnxruntime_c_api.h) that onnxruntime only ever
appends to, so the slots used here stay where they are in every release from :data:`API_VERSION` on — the same
slots the JavaScript runtime calls (clients/js/src/ortc.js). :func:`load_api` checks the table on a status round
trip before using it and returns None (the caller then uses onnxruntime's Python package) where the library is
not in the wheel, is older than :data:`API_VERSION` or cannot be loaded.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
from collections.abc import Sequence
from importlib.util import find_spec

API_VERSION = 17
_P, _I, _S, _N = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t
_OUT = ctypes.POINTER(ctypes.c_void_p)
# OrtApi slots (counted from 0): (slot, result, arguments). A result _P is an OrtStatus*: None means success.
_SLOTS = {
    "CreateStatus": (0, _P, (_I, _S)),
    "GetErrorCode": (1, _I, (_P,)),
    "GetErrorMessage": (2, _S, (_P,)),
    "CreateEnv": (3, _P, (_I, _S, _OUT)),
    "CreateSessionFromArray": (8, _P, (_P, _S, _N, _P, _OUT)),
    "CreateSessionOptions": (10, _P, (_OUT,)),
    "SetSessionExecutionMode": (13, _P, (_P, _I)),
    "SetSessionLogSeverityLevel": (22, _P, (_P, _I)),
    "SetSessionGraphOptimizationLevel": (23, _P, (_P, _I)),
    "SetIntraOpNumThreads": (24, _P, (_P, _I)),
    "SetInterOpNumThreads": (25, _P, (_P, _I)),
    "CreateRunOptions": (39, _P, (_OUT,)),
    "CreateTensorWithDataAsOrtValue": (49, _P, (_P, _P, _N, ctypes.POINTER(ctypes.c_int64), _N, _I, _OUT)),
    "CreateCpuMemoryInfo": (69, _P, (_I, _I, _OUT)),
    "ReleaseStatus": (93, None, (_P,)),
    "ReleaseMemoryInfo": (94, None, (_P,)),
    "ReleaseSession": (95, None, (_P,)),
    "ReleaseValue": (96, None, (_P,)),
    "ReleaseRunOptions": (97, None, (_P,)),
    "ReleaseSessionOptions": (100, None, (_P,)),
    "RunWithBinding": (133, _P, (_P, _P, _P)),
    "CreateIoBinding": (134, _P, (_P, _OUT)),
    "ReleaseIoBinding": (135, None, (_P,)),
    "BindInput": (136, _P, (_P, _S, _P)),
    "BindOutput": (137, _P, (_P, _S, _P)),
}
ELEMENTS = {"float32": (1, ctypes.c_float), "int64": (7, ctypes.c_int64)}  # ONNXTensorElementDataType
_KINDS = {ctype: code for code, ctype in ELEMENTS.values()}  # a buffer's element type → its code
_ARENA_ALLOCATOR, _MEM_TYPE_DEFAULT = 1, 0
_LOG_ERROR, _SEQUENTIAL, _OPTIMIZE_ALL = 3, 0, 99  # what rnnqa.runtime.session.make_session sets
# libonnxruntime.so.1.32.0, libonnxruntime.1.32.0.dylib; never libonnxruntime_providers_shared.*
_LIBRARIES = {"linux": "libonnxruntime.so*", "darwin": "libonnxruntime.*dylib", "win32": "onnxruntime.dll"}


class OrtError(Exception):
    """An error onnxruntime reported (its OrtStatus message)."""


class Api:
    """The OrtApi functions named as in the header, and the process's one OrtEnv."""

    def __init__(self, library: ctypes.CDLL, table: int):
        self.library = library  # kept: the functions point into it
        prototype = ctypes.WINFUNCTYPE if sys.platform == "win32" else ctypes.CFUNCTYPE  # ORT_API_CALL
        count = max(slot for slot, _, _ in _SLOTS.values()) + 1
        pointers = (ctypes.c_void_p * count).from_address(table)
        for name, (slot, result, arguments) in _SLOTS.items():
            setattr(self, name, prototype(result, *arguments)(pointers[slot]))
        self.env = None

    def check(self, status: int | None) -> None:
        if status:
            message = self.GetErrorMessage(status) or b"onnxruntime gave no message"
            self.ReleaseStatus(status)
            raise OrtError(message.decode("utf-8", "replace"))

    def created(self, make, *arguments) -> int:
        """The object ``make(*arguments, &out)`` makes."""
        out = ctypes.c_void_p()
        self.check(make(*arguments, ctypes.byref(out)))
        return out.value


_api: Api | None | bool = False  # False: not looked for yet


def library_path() -> str | None:
    """The C library inside the installed onnxruntime wheel (``onnxruntime/capi``), found without importing it."""
    pattern = _LIBRARIES.get(sys.platform)
    if sys.platform == "win32" and sys.maxsize <= 2**32:  # 32-bit Windows: OrtGetApiBase and GetApi are stdcall
        return None
    try:
        spec = find_spec("onnxruntime")
    except (ImportError, ValueError):
        return None
    if pattern is None or spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        found = sorted(glob.glob(os.path.join(glob.escape(root), "capi", pattern)))
        if found:
            return found[-1]
    return None


def load_api() -> Api | None:
    """onnxruntime's C API, or None where it cannot be had here (see the module comment). Looked for once."""
    global _api
    if _api is False:
        try:
            _api = _read_api(library_path())
        except (OSError, AttributeError, TypeError, ValueError, OrtError):  # not loadable, no symbol, a null slot
            _api = None
    return _api


def _read_api(path: str | None) -> Api | None:
    if path is None:
        return None
    library = ctypes.CDLL(path)
    get_base = library.OrtGetApiBase
    get_base.restype, get_base.argtypes = ctypes.c_void_p, []
    base = get_base()
    if not base:
        return None
    get_api = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint32)(ctypes.c_void_p.from_address(base).value)
    table = get_api(API_VERSION)
    if not table:  # a library older than API_VERSION
        return None
    api = Api(library, table)
    # The table as read here: a status made, read back and released through four of its slots.
    status = api.CreateStatus(6, b"rnnqa")
    round_trip = api.GetErrorCode(status) == 6 and api.GetErrorMessage(status) == b"rnnqa"
    api.ReleaseStatus(status)
    if not round_trip:
        return None
    api.env = api.created(api.CreateEnv, _LOG_ERROR, b"rnnqa")  # kept for the process
    return api


class Session:
    """A CPU session on graph ``model`` (ONNX bytes, already verified by the caller), one intra-op thread, with
    the options :func:`rnnqa.runtime.session.make_session` sets.

    :meth:`bind` binds inputs and outputs to buffers made here; :meth:`run` runs on a binding. Every onnxruntime
    object is released by :meth:`close` (or when the session is collected).

    Raises:
        OrtError: onnxruntime refuses the graph.
    """

    def __init__(self, api: Api, model: bytes):
        self._api = api
        self._bindings: list[int] = []
        self._values: list[int] = []
        self._buffers: list = []  # the memory the values point at: kept while they live
        self._session = self._run_options = self._memory = None
        options = api.created(api.CreateSessionOptions)
        try:
            api.check(api.SetSessionExecutionMode(options, _SEQUENTIAL))
            api.check(api.SetSessionGraphOptimizationLevel(options, _OPTIMIZE_ALL))
            api.check(api.SetIntraOpNumThreads(options, 1))
            api.check(api.SetInterOpNumThreads(options, 1))
            api.check(api.SetSessionLogSeverityLevel(options, _LOG_ERROR))
            self._session = api.created(api.CreateSessionFromArray, api.env, model, len(model), options)
        finally:
            api.ReleaseSessionOptions(options)
        self._run_options = api.created(api.CreateRunOptions)
        self._memory = api.created(api.CreateCpuMemoryInfo, _ARENA_ALLOCATOR, _MEM_TYPE_DEFAULT)

    def buffer(self, element: str, count: int):
        """A zeroed ctypes array of ``count`` ``element`` ("float32", "int64") that a tensor may view."""
        return (ELEMENTS[element][1] * count)()

    def bind(self, inputs: Sequence[tuple[str, object, Sequence[int]]],
             outputs: Sequence[tuple[str, object, Sequence[int]]]) -> int:
        """An OrtIoBinding of each ``(name, buffer, dims)`` — a :meth:`buffer`, or a view of one's start
        (``element_type * n).from_buffer(buffer)``) — as a tensor of shape ``dims``.

        Raises:
            OrtError: onnxruntime refuses a name, a type or a shape.
        """
        api = self._api
        binding = api.created(api.CreateIoBinding, self._open())
        self._bindings.append(binding)
        for bind, items in ((api.BindInput, inputs), (api.BindOutput, outputs)):
            for name, buffer, dims in items:
                api.check(bind(binding, name.encode(), self._tensor(buffer, dims)))
        return binding

    def run(self, binding: int) -> None:
        """Run on ``binding``: onnxruntime reads its inputs' buffers and writes its outputs'.

        Raises:
            OrtError: the run failed.
        """
        self._api.check(self._api.RunWithBinding(self._open(), self._run_options, binding))

    def _open(self) -> int:
        if self._session is None:
            raise OrtError("the session was closed")
        return self._session

    def _tensor(self, buffer, dims: Sequence[int]) -> int:
        api = self._api
        kind = _KINDS.get(getattr(buffer, "_type_", None))
        if kind is None:
            raise TypeError(f"not a ctypes array of {' or '.join(ELEMENTS)}: {type(buffer).__name__}")
        shape = (ctypes.c_int64 * len(dims))(*dims)
        value = api.created(api.CreateTensorWithDataAsOrtValue, self._memory, ctypes.addressof(buffer),
                            ctypes.sizeof(buffer), shape, len(dims), kind)
        self._values.append(value)
        self._buffers.append(buffer)
        return value

    def close(self) -> None:
        """Release every onnxruntime object of this session (idempotent)."""
        api = self._api
        for binding in self._bindings:
            api.ReleaseIoBinding(binding)
        for value in self._values:
            api.ReleaseValue(value)
        self._bindings, self._values, self._buffers = [], [], []
        for attribute, release in (("_session", api.ReleaseSession), ("_run_options", api.ReleaseRunOptions),
                                   ("_memory", api.ReleaseMemoryInfo)):
            handle = getattr(self, attribute)
            if handle is not None:
                release(handle)
                setattr(self, attribute, None)

    def __del__(self) -> None:
        if getattr(self, "_api", None) is not None:
            self.close()
