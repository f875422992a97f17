"""The dynamic batcher with a stand-in model whose calls can be held: gathering, caps, overload, deadline."""

import asyncio
import threading

import pytest

from rnnqa.runtime import Answer
from rnnqa.serve.batcher import BatchConfig, Batcher, Overloaded


class HeldModel:
    """answer_batch records each call's questions and waits for `release` (set it to let calls through)."""

    def __init__(self):
        self.calls: list[list[str]] = []
        self.release = threading.Event()
        self.bundle = type("Bundle", (), {"manifest": {"files": {"model.onnx": "sha"}}})()

    def pinned(self):
        return self

    def answer_batch(self, questions):
        self.calls.append(list(questions))
        assert self.release.wait(10)
        return [Answer(q.upper(), 1.0, True) for q in questions]


def run(coro):
    return asyncio.run(coro)


async def started(model, **config):
    batcher = Batcher(model, BatchConfig(**config))
    batcher.start()
    return batcher


def test_requests_queued_while_a_call_runs_go_together_in_the_next_call_in_order():
    async def scenario():
        model = HeldModel()
        batcher = await started(model)
        first = asyncio.create_task(batcher.submit(["a"]))
        await asyncio.sleep(0.05)  # the first call is running and held
        rest = [asyncio.create_task(batcher.submit([f"q{i}", f"r{i}"])) for i in range(5)]
        await asyncio.sleep(0.05)
        model.release.set()
        answered = await asyncio.gather(first, *rest)
        await batcher.stop()
        return model.calls, answered

    calls, answered = run(scenario())
    assert calls == [["a"], [f"{x}{i}" for i in range(5) for x in "qr"]]
    assert [a.text for a in answered[3].answers] == ["Q2", "R2"]
    assert answered[3].batch_size == 10 and answered[3].manifest["files"]["model.onnx"] == "sha"


def test_max_batch_caps_a_call_and_a_larger_request_goes_alone():
    async def scenario():
        model = HeldModel()
        batcher = await started(model, max_batch=4)
        first = asyncio.create_task(batcher.submit(["a"]))
        await asyncio.sleep(0.05)
        tasks = [asyncio.create_task(batcher.submit(qs)) for qs in (["b", "c"], ["d", "e"], ["f"], list("ghijkl"))]
        await asyncio.sleep(0.05)
        model.release.set()
        await asyncio.gather(first, *tasks)
        await batcher.stop()
        return model.calls

    assert run(scenario()) == [["a"], ["b", "c", "d", "e"], ["f"], list("ghijkl")]


def test_a_full_queue_refuses_at_once_and_the_batcher_recovers():
    async def scenario():
        model = HeldModel()
        batcher = await started(model, max_queue=3)
        first = asyncio.create_task(batcher.submit(["a"]))
        await asyncio.sleep(0.05)
        queued = asyncio.create_task(batcher.submit(["b", "c", "d"]))
        await asyncio.sleep(0.01)
        with pytest.raises(Overloaded, match="3 questions queued"):
            await batcher.submit(["e"])
        model.release.set()
        await asyncio.gather(first, queued)
        after = await batcher.submit(["f"])
        await batcher.stop()
        return after

    assert [a.text for a in run(scenario()).answers] == ["F"]


def test_a_request_past_its_deadline_is_refused_and_never_answered_later():
    async def scenario():
        model = HeldModel()
        batcher = await started(model, timeout_s=0.1)
        first = asyncio.create_task(batcher.submit(["a"]))
        await asyncio.sleep(0.02)
        with pytest.raises(Overloaded, match="not answered within"):
            await batcher.submit(["late"])
        model.release.set()
        with pytest.raises(Overloaded):
            await first  # it waited too, held by the call
        await asyncio.sleep(0.05)
        await batcher.stop()
        return model.calls

    assert run(scenario()) == [["a"]]  # "late" timed out while queued: never sent to the model


def test_config_is_checked():
    with pytest.raises(ValueError):
        BatchConfig(max_batch=0)
    with pytest.raises(ValueError):
        BatchConfig(timeout_s=0)
