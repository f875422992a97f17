"""Ray Serve serving a bundle as its documentation shows: one replica behind Ray's HTTP proxy, questions
gathered by ``@serve.batch`` into one ``InferenceSession.run``; and a POST no-op on the same proxy.

    python benchmarks/peers/ray_app.py --bundle dir --port 8000   # serves until SIGTERM
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading

import numpy as np
import ray
from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse


@serve.deployment(num_replicas=1, max_ongoing_requests=512)
class Answerer:
    def __init__(self, bundle: str):
        import onnxruntime as ort

        from rnnqa.runtime import QAModel

        self.model = QAModel.load(bundle, threads=1)
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(os.path.join(bundle, "model.onnx"), options,
                                            providers=["CPUExecutionProvider"])
        manifest = self.model.bundle.manifest
        self.bundle_id = {"model_sha256": manifest["files"]["model.onnx"], "created": manifest.get("created")}

    @serve.batch(max_batch_size=256, batch_wait_timeout_s=0.001)
    async def answer(self, questions: list[str]) -> list[dict]:
        rows = [self.model.encode(q) for q in questions]
        ids = np.zeros((len(rows), max(map(len, rows))), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = row
        index, confidence = self.session.run(["answer_index", "confidence"], {
            "input_ids": ids, "lengths": np.array([len(r) for r in rows], dtype=np.int64)})
        return [{"question": q, "answer": self.model.vocab.answers[int(j)], "confidence": float(c),
                 "known": float(c) >= self.model.threshold, "bundle": self.bundle_id}
                for q, j, c in zip(questions, index, confidence)]

    async def __call__(self, request: Request) -> JSONResponse:
        question = json.loads(await request.body())["question"]
        if request.url.path.endswith("/noop"):
            return JSONResponse({"question": question, "answer": "Lima", "confidence": 0.9, "known": True,
                                 "bundle": self.bundle_id})
        return JSONResponse(await self.answer(question))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": args.port})
    serve.run(Answerer.bind(os.path.abspath(args.bundle)), route_prefix="/")
    print(f"serving on http://127.0.0.1:{args.port}/", file=sys.stderr, flush=True)
    stop.wait()
    serve.shutdown()
    ray.shutdown()


if __name__ == "__main__":
    main()
