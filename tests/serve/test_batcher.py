"""The dynamic batcher with a stand-in model whose calls can be held: gathering, caps, overload, deadline."""

import asyncio
import threading
import time

import pytest

from rnnqa.runtime import Answer
from rnnqa.serve.batcher import BatchConfig, Batcher, Overloaded


class HeldModel:
    """A pinned model view whose rows are plain strings: answer_rows records each call's rows and waits
    for `release` (set it to let calls through)."""

    def __init__(self, sha="sha", calls=None, release=None):
        self.calls: list[list[str]] = [] if calls is None else calls
        self.release = release or threading.Event()
        self.bundle = type("Bundle", (), {"manifest": {"files": {"model.onnx": sha}}})()

    def answer_rows(self, rows):
        self.calls.append(list(rows))
        assert self.release.wait(10)
        return [Answer(r.upper(), 1.0, True) for r in rows]

    def top_k_rows(self, rows, k):
        self.calls.append([f"top{k}:{r}" for r in rows])
        assert self.release.wait(10)
        return [[Answer(r.upper() * (i + 1), 1.0 / (i + 1), True) for i in range(k)] for r in rows]

    def reloaded(self, sha):
        """Another bundle's view, sharing this one's call log and release."""
        return HeldModel(sha, self.calls, self.release)


def run(coro):
    return asyncio.run(coro)


async def until(condition, timeout_s: float = 10) -> None:
    """Wait for ``condition()`` (the batcher's state, not a guess at how long it takes)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.001)


async def started(model, **config):
    batcher = Batcher(BatchConfig(**config))
    batcher.start()
    return batcher


def queued_behind_a_held_call(model: HeldModel, requests: list[tuple], **config) -> tuple[list, list]:
    """Submit ["a"] (its call is held), then each (model, rows, top_k) of ``requests``; release; the calls made
    and every request's Answered."""

    async def scenario():
        batcher = await started(model, **config)
        first = asyncio.create_task(batcher.submit(model, ["a"]))
        await until(lambda: model.calls)  # the first call is running and held
        rest = [asyncio.create_task(batcher.submit(*request)) for request in requests]
        await until(lambda: batcher.depth == sum(len(request[1]) for request in requests))  # all queued
        model.release.set()
        answered = await asyncio.gather(first, *rest)
        await batcher.stop()
        return model.calls, answered

    return run(scenario())


def test_requests_queued_while_a_call_runs_go_together_in_the_next_call_in_order():
    model = HeldModel()
    calls, answered = queued_behind_a_held_call(model, [(model, [f"q{i}", f"r{i}"]) for i in range(5)])
    assert calls == [["a"], [f"{x}{i}" for i in range(5) for x in "qr"]]
    assert [a.text for a in answered[3].answers] == ["Q2", "R2"]
    assert answered[3].batch_size == 10 and answered[3].manifest["files"]["model.onnx"] == "sha"


def test_max_batch_caps_a_call_and_a_larger_request_goes_alone():
    model = HeldModel()
    requests = [(model, rows) for rows in (["b", "c"], ["d", "e"], ["f"], list("ghijkl"))]
    calls, _ = queued_behind_a_held_call(model, requests, max_batch=4)
    assert calls == [["a"], ["b", "c", "d", "e"], ["f"], list("ghijkl")]


def test_a_full_queue_refuses_at_once_and_the_batcher_recovers():
    async def scenario():
        model = HeldModel()
        batcher = await started(model, max_queue=3)
        first = asyncio.create_task(batcher.submit(model, ["a"]))
        await until(lambda: model.calls)
        queued = asyncio.create_task(batcher.submit(model, ["b", "c", "d"]))
        await until(lambda: batcher.depth == 3)
        with pytest.raises(Overloaded, match="3 questions queued"):
            await batcher.submit(model, ["e"])
        model.release.set()
        await asyncio.gather(first, queued)
        after = await batcher.submit(model, ["f"])
        await batcher.stop()
        return after

    assert [a.text for a in run(scenario()).answers] == ["F"]


def test_a_request_past_its_deadline_is_refused_and_never_answered_later():
    async def scenario():
        model = HeldModel()
        batcher = await started(model, timeout_s=0.1)
        first = asyncio.create_task(batcher.submit(model, ["a"]))
        await until(lambda: model.calls)
        with pytest.raises(Overloaded, match="not answered within"):
            await batcher.submit(model, ["late"])
        model.release.set()
        with pytest.raises(Overloaded):
            await first  # it waited too, held by the call
        await asyncio.sleep(0.05)
        await batcher.stop()
        return model.calls

    assert run(scenario()) == [["a"]]  # "late" timed out while queued: never sent to the model


def test_a_batch_never_mixes_bundles_and_top_k_rides_in_the_batch():
    old = HeldModel("old")
    new = old.reloaded("new")
    requests = [(old, ["b"], 0), (old, ["c"], 2), (new, ["d"], 0), (new, ["e"], 0), (old, ["f"], 0)]
    calls, answered = queued_behind_a_held_call(old, requests)
    assert calls == [["a"], ["top2:b", "top2:c"], ["d", "e"], ["f"]]
    b, c, d = answered[1], answered[2], answered[3]
    assert [a.text for a in b.answers] == ["B"] and b.ranked is None  # it did not ask for top_k
    assert [a.text for a in c.answers] == ["C"] and [[a.text for a in r] for r in c.ranked] == [["C", "CC"]]
    assert d.manifest["files"]["model.onnx"] == "new" and b.manifest["files"]["model.onnx"] == "old"


def test_an_error_in_the_model_reaches_each_request_of_the_batch_and_the_batcher_goes_on():
    class Failing(HeldModel):
        def answer_rows(self, rows):
            if "boom" in rows:
                raise RuntimeError("boom")
            return super().answer_rows(rows)

    async def scenario():
        model = Failing()
        model.release.set()
        batcher = await started(model)
        results = await asyncio.gather(batcher.submit(model, ["boom"]), return_exceptions=True)
        after = await batcher.submit(model, ["ok"])
        await batcher.stop()
        return results, after

    results, after = run(scenario())
    assert isinstance(results[0], RuntimeError) and [a.text for a in after.answers] == ["OK"]


def test_config_is_checked():
    with pytest.raises(ValueError):
        BatchConfig(max_batch=0)
    with pytest.raises(ValueError):
        BatchConfig(timeout_s=0)


def test_each_request_is_refused_at_its_own_deadline_by_one_timer():
    async def scenario():
        model = HeldModel()
        batcher = await started(model, timeout_s=0.3)
        loop = asyncio.get_running_loop()
        refused_at = {}

        async def ask(name):
            with pytest.raises(Overloaded, match="not answered within 0.3 s"):
                await batcher.submit(model, [name])
            refused_at[name] = loop.time()

        start = loop.time()
        first = asyncio.create_task(ask("a"))  # its call is held past both deadlines
        await until(lambda: model.calls)
        await asyncio.sleep(0.15)
        second = asyncio.create_task(ask("b"))  # queued behind it
        await asyncio.gather(first, second)
        model.release.set()
        answered = await batcher.submit(model, ["c"])  # after both: answered, not refused by a stale timer
        await batcher.stop()
        return start, refused_at, answered

    start, refused_at, answered = run(scenario())
    assert 0.29 <= refused_at["a"] - start < 0.45
    assert refused_at["b"] - refused_at["a"] >= 0.1  # its own deadline, not the first one's
    assert [a.text for a in answered.answers] == ["C"]
