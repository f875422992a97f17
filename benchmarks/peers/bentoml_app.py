"""BentoML serving a bundle as its documentation shows: one Service, a batchable API (adaptive batching)
gathering the questions of concurrent requests into one ``InferenceSession.run``; and a POST no-op.

Runs in a venv of its own, so BentoML's thirty-odd packages (OpenTelemetry, aiohttp, …) stay out of rnnqa's
(`make bench-serve` makes ``.venv-bentoml`` with bentoml and rnnqa's base install):

    RNNQA_BUNDLE=dir .venv-bentoml/bin/bentoml serve benchmarks.peers.bentoml_app:Answerer --port 8000

A request is ``{"questions": ["…"]}``: a batchable API takes one list parameter, and BentoML joins the
lists of concurrent requests into one batch and splits the answers back.
"""

from __future__ import annotations

import os

import bentoml

BUNDLE = os.environ["RNNQA_BUNDLE"]


@bentoml.service(workers=1, threads=1, traffic={"timeout": 60, "max_concurrency": 1024})
class Answerer:
    def __init__(self) -> None:
        from benchmarks.peers.bare import BareModel

        self.bare = BareModel(BUNDLE)

    @bentoml.api(route="/v1/answer", batchable=True, max_batch_size=256, max_latency_ms=1000)
    def answer(self, questions: list[str]) -> list[dict]:
        return self.bare.answer(questions)

    @bentoml.api(route="/noop")
    def noop(self, questions: list[str]) -> list[dict]:
        return [self.bare.noop(q) for q in questions]
