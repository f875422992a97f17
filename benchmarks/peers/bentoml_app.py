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
import numpy as np

BUNDLE = os.environ["RNNQA_BUNDLE"]


@bentoml.service(workers=1, threads=1, traffic={"timeout": 60, "max_concurrency": 1024})
class Answerer:
    def __init__(self) -> None:
        import onnxruntime as ort

        from rnnqa.runtime import QAModel

        self.model = QAModel.load(BUNDLE, threads=1)  # the tokenizer, vocabulary and threshold
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(os.path.join(BUNDLE, "model.onnx"), options,
                                            providers=["CPUExecutionProvider"])
        manifest = self.model.bundle.manifest
        self.bundle_id = {"model_sha256": manifest["files"]["model.onnx"], "created": manifest.get("created")}

    @bentoml.api(route="/v1/answer", batchable=True, max_batch_size=256, max_latency_ms=1000)
    def answer(self, questions: list[str]) -> list[dict]:
        rows = [self.model.encode(q) for q in questions]
        ids = np.zeros((len(rows), max(map(len, rows))), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = row
        index, confidence = self.session.run(["answer_index", "confidence"], {
            "input_ids": ids, "lengths": np.array([len(r) for r in rows], dtype=np.int64)})
        return [{"question": q, "answer": self.model.vocab.answers[int(j)], "confidence": float(c),
                 "known": float(c) >= self.model.threshold, "bundle": self.bundle_id}
                for q, j, c in zip(questions, index, confidence)]

    @bentoml.api(route="/noop")
    def noop(self, questions: list[str]) -> list[dict]:
        return [{"question": q, "answer": "Lima", "confidence": 0.9, "known": True, "bundle": self.bundle_id}
                for q in questions]
