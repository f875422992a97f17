"""Dynamic batching: concurrent requests gathered into one onnxruntime call, off the event loop.

A queue with two numbers, as Triton's dynamic batcher has: ``max_batch`` questions per call and
``max_wait_us`` to wait for more (default 0: a batch is whatever is queued when the worker is free, so
no request waits for company). A bounded queue (``max_queue`` questions) refuses work it could not do in
time (:class:`Overloaded`, an HTTP 503), and a request still queued at its deadline is dropped the same
way, so memory stays bounded and an overloaded server answers quickly that it is. A request's questions
go into one call together; the graph answers each row as it would alone (right padding never changes
a row's answer), so an answer does not depend on what it was batched with.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from rnnqa.runtime import Answer, QAModel


@dataclass(frozen=True)
class BatchConfig:
    max_batch: int = 256  # questions per onnxruntime call (a larger request goes alone)
    max_wait_us: int = 0  # how long the worker waits for more requests once one is queued
    max_queue: int = 4096  # questions waiting at most; beyond, requests are refused (503)
    timeout_s: float = 10.0  # a request still queued after this is refused (503)

    def __post_init__(self) -> None:
        if self.max_batch < 1 or self.max_queue < 1 or self.max_wait_us < 0 or not self.timeout_s > 0:
            raise ValueError("max_batch and max_queue must be ≥ 1, max_wait_us ≥ 0 and timeout_s > 0")


class Overloaded(Exception):
    """The queue is full, or the request waited past its deadline: try again later (HTTP 503)."""


@dataclass
class _Pending:
    questions: Sequence[str]
    future: asyncio.Future
    queued_at: float


@dataclass(frozen=True)
class Answered:
    answers: list[Answer]
    manifest: dict  # of the bundle that answered: the whole batch is answered by one bundle
    queue_wait_s: float
    batch_size: int


class Batcher:
    """Owns one worker task and one thread; :meth:`submit` from any request handler."""

    def __init__(self, model: QAModel, config: BatchConfig = BatchConfig(),
                 on_batch: Callable[[int], None] | None = None):
        self._model, self._config, self._on_batch = model, config, on_batch
        self._queue: collections.deque[_Pending] = collections.deque()
        self._waiting = 0
        self._wakeup = asyncio.Event()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnnqa-batch")
        self._worker: asyncio.Task | None = None

    @property
    def depth(self) -> int:
        """Questions queued now."""
        return self._waiting

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Answer what is queued (for at most one request deadline), then stop the worker."""
        deadline = time.perf_counter() + self._config.timeout_s
        while self._queue and time.perf_counter() < deadline:
            await asyncio.sleep(0.001)
        if self._worker:
            self._worker.cancel()
        self._thread.shutdown(wait=True)

    async def submit(self, questions: Sequence[str]) -> Answered:
        """Answer ``questions`` (already checked to have words) in the next batch.

        Raises:
            Overloaded: the queue is full, or the deadline passed while queued.
        """
        if self._waiting + len(questions) > self._config.max_queue and self._waiting:
            raise Overloaded(f"{self._waiting} questions queued (limit {self._config.max_queue})")
        pending = _Pending(questions, asyncio.get_running_loop().create_future(), time.perf_counter())
        self._queue.append(pending)
        self._waiting += len(questions)
        self._wakeup.set()
        try:
            return await asyncio.wait_for(asyncio.shield(pending.future), self._config.timeout_s)
        except asyncio.TimeoutError:
            pending.future.cancel()  # the worker skips it if it is still queued
            raise Overloaded(f"not answered within {self._config.timeout_s} s") from None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if self._config.max_wait_us and self._waiting < self._config.max_batch:
                await asyncio.sleep(self._config.max_wait_us / 1e6)
            while self._queue:
                batch = self._take()
                if not batch:
                    continue
                started = time.perf_counter()
                questions = [q for pending in batch for q in pending.questions]
                try:
                    answers, manifest = await loop.run_in_executor(self._thread, self._answer, questions)
                except Exception as exc:  # noqa: BLE001 - handed to each request, which maps it to a 500
                    for pending in batch:
                        if not pending.future.done():
                            pending.future.set_exception(exc)
                    continue
                if self._on_batch:
                    self._on_batch(len(questions))
                start = 0
                for pending in batch:
                    end = start + len(pending.questions)
                    if not pending.future.done():
                        pending.future.set_result(Answered(answers[start:end], manifest, started - pending.queued_at,
                                                           len(questions)))
                    start = end

    def _take(self) -> list[_Pending]:
        """Requests for one call: at least one, then as many whole requests as fit in max_batch."""
        batch, size = [], 0
        while self._queue:
            pending = self._queue[0]
            if batch and size + len(pending.questions) > self._config.max_batch:
                break
            self._queue.popleft()
            self._waiting -= len(pending.questions)
            if pending.future.done():  # timed out while queued
                continue
            batch.append(pending)
            size += len(pending.questions)
        return batch

    def _answer(self, questions: list[str]) -> tuple[list[Answer], dict]:
        pinned = self._model.pinned()  # one bundle for the whole call, even if a reload lands meanwhile
        return pinned.answer_batch(questions), pinned.bundle.manifest
