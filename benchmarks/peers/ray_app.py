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

import ray
from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse


@serve.deployment(num_replicas=1, max_ongoing_requests=512)
class Answerer:
    def __init__(self, bundle: str):
        from benchmarks.peers.bare import BareModel

        self.bare = BareModel(bundle)

    @serve.batch(max_batch_size=256, batch_wait_timeout_s=0.001)
    async def answer(self, questions: list[str]) -> list[dict]:
        return self.bare.answer(questions)

    async def __call__(self, request: Request) -> JSONResponse:
        question = json.loads(await request.body())["question"]
        if request.url.path.endswith("/noop"):
            return JSONResponse(self.bare.noop(question))
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
