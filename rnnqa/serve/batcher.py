"""Dynamic batching: concurrent requests gathered into one onnxruntime call, off the event loop.

A queue with two numbers, as Triton's dynamic batcher has: ``max_batch`` questions per call and
``max_wait_us`` to wait for more (default 0: a batch is whatever is queued when the worker is free, so
no request waits for company). A bounded queue (``max_queue`` questions) refuses work it could not do in
time (:class:`Overloaded`, an HTTP 503), and a request still unanswered at its deadline is refused the
same way, so memory stays bounded and an overloaded server answers quickly that it is.

The worker is one thread that takes its batches from the queue itself: the event loop only appends a
request and, once per batch, resolves the answered requests' futures (one ``call_soon_threadsafe``).
Questions arrive encoded, by the pinned model view that checked them on the request path, so the
thread holds the GIL only to pad the rows and read the outputs; onnxruntime runs without it. A batch
holds requests of one bundle only (a reload splits the queue there), a request's questions go into one
call together, and the graph answers each row as it would alone (right padding never changes a row's
answer), so an answer does not depend on what it was batched with.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from rnnqa.errors import ConfigError, Overloaded
from rnnqa.runtime import Answer


class RowModel(Protocol):
    """What the batcher needs of a (pinned) :class:`~rnnqa.runtime.QAModel` view."""

    bundle: object

    def answer_rows(self, rows: Sequence) -> list[Answer]: ...

    def top_k_rows(self, rows: Sequence, k: int) -> list[list[Answer]]: ...


@dataclass(frozen=True)
class BatchConfig:
    max_batch: int = 256  # questions per onnxruntime call (a larger request goes alone)
    max_wait_us: int = 0  # how long the worker waits for more requests once one is queued
    max_queue: int = 4096  # questions waiting at most; beyond, requests are refused (503)
    timeout_s: float = 10.0  # a request unanswered after this is refused (503)

    def __post_init__(self) -> None:
        if self.max_batch < 1 or self.max_queue < 1 or self.max_wait_us < 0 or not self.timeout_s > 0:
            raise ConfigError("max_batch and max_queue must be ≥ 1, max_wait_us ≥ 0 and timeout_s > 0")


@dataclass(frozen=True)
class Answered:
    answers: list[Answer]
    ranked: list[list[Answer]] | None  # the top_k answers of each question, when asked for
    manifest: dict  # of the bundle that answered: the whole batch is answered by one bundle
    queue_wait_s: float
    batch_size: int


@dataclass
class _Pending:
    model: RowModel
    rows: Sequence
    top_k: int
    future: asyncio.Future
    queued_at: float
    timer: asyncio.TimerHandle | None = None
    started_at: float = field(default=0.0)


class Batcher:
    """Owns one worker thread; :meth:`submit` from request handlers on the loop that called :meth:`start`."""

    def __init__(self, config: BatchConfig = BatchConfig(), on_batch: Callable[[int], None] | None = None):
        self._config, self._on_batch = config, on_batch
        self._queue: collections.deque[_Pending] = collections.deque()  # appended on the loop, taken by the thread
        self._queued = 0  # questions ever queued: written on the loop only
        self._taken = 0  # questions ever taken: written by the thread only
        self._wakeup = threading.Event()
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        """The worker thread is running (a server whose thread died is not ready)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def depth(self) -> int:
        """Questions queued now."""
        return self._queued - self._taken

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._work, name="rnnqa-batch", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Answer what is queued (for at most one request deadline), then stop the worker."""
        deadline = time.perf_counter() + self._config.timeout_s
        while self._queue and time.perf_counter() < deadline:
            await asyncio.sleep(0.001)
        self._stopping = True
        self._wakeup.set()
        if self._thread:
            await asyncio.to_thread(self._thread.join, self._config.timeout_s)

    async def submit(self, model: RowModel, rows: Sequence, top_k: int = 0) -> Answered:
        """Answer ``rows`` (questions encoded by the pinned view ``model``) in the next batch.

        Raises:
            Overloaded: the queue is full, or the deadline passed first.
        """
        depth = self.depth
        if depth and depth + len(rows) > self._config.max_queue:
            raise Overloaded(f"{depth} questions queued (limit {self._config.max_queue})")
        loop = self._loop
        pending = _Pending(model, rows, top_k, loop.create_future(), time.perf_counter())
        pending.timer = loop.call_later(self._config.timeout_s, _expire, pending.future, self._config.timeout_s)
        self._queue.append(pending)
        self._queued += len(rows)
        if not self._wakeup.is_set():
            self._wakeup.set()
        return await pending.future

    # --- the worker thread

    def _work(self) -> None:
        wait_s = self._config.max_wait_us / 1e6
        while not self._stopping:
            self._wakeup.wait()
            self._wakeup.clear()
            if wait_s and self.depth < self._config.max_batch:
                time.sleep(wait_s)
            while self._queue:
                batch = self._take()
                if not batch:
                    continue
                try:
                    self._loop.call_soon_threadsafe(self._deliver, batch, *self._answer(batch))
                except RuntimeError:  # the loop closed under us (stop timed out): nobody is waiting
                    return

    def _take(self) -> list[_Pending]:
        """Requests for one call: at least one, then as many whole requests of the same bundle as fit."""
        batch, size = [], 0
        while self._queue:
            pending = self._queue[0]
            full = size + len(pending.rows) > self._config.max_batch
            if batch and (full or pending.model.bundle is not batch[0].model.bundle):
                break
            self._queue.popleft()
            self._taken += len(pending.rows)
            if pending.future.done():  # refused at its deadline while queued (a benign race: _deliver checks again)
                continue
            batch.append(pending)
            size += len(pending.rows)
        return batch

    def _answer(self, batch: list[_Pending]) -> tuple[list[Answer] | None, list[list[Answer]] | None, Exception | None]:
        started = time.perf_counter()
        for pending in batch:
            pending.started_at = started
        rows = [row for pending in batch for row in pending.rows]
        model, k = batch[0].model, max(pending.top_k for pending in batch)
        try:
            if k:
                ranked = model.top_k_rows(rows, k)
                return [r[0] for r in ranked], ranked, None
            return model.answer_rows(rows), None, None
        except Exception as exc:  # noqa: BLE001 - handed to each request, which maps it to a 500
            return None, None, exc

    # --- back on the loop

    def _deliver(self, batch: list[_Pending], answers: list[Answer] | None, ranked: list[list[Answer]] | None,
                 error: Exception | None) -> None:
        size = sum(len(pending.rows) for pending in batch)
        start = 0
        for pending in batch:
            end = start + len(pending.rows)
            pending.timer.cancel()
            if not pending.future.done():
                if error is not None:
                    pending.future.set_exception(error)
                else:
                    mine = [r[:pending.top_k] for r in ranked[start:end]] if pending.top_k else None
                    pending.future.set_result(Answered(answers[start:end], mine, pending.model.bundle.manifest,
                                                       pending.started_at - pending.queued_at, size))
            start = end
        if error is None and self._on_batch:  # after every request has its answer
            self._on_batch(size)


def _expire(future: asyncio.Future, timeout_s: float) -> None:
    if not future.done():
        future.set_exception(Overloaded(f"not answered within {timeout_s} s"))
