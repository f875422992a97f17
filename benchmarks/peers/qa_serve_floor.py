"""qa-serve's own stack with a POST no-op beside its routes: the same app, hot path (body reading, JSON
parsing, the request record: metrics and the JSON log line) as ``/v1/answer``, answering a constant,
same-shaped record without the model.

    RNNQA_BUNDLE=dir uvicorn --factory benchmarks.peers.qa_serve_floor:app --loop asyncio
"""

from __future__ import annotations

import os

from rnnqa.runtime import QAModel
from rnnqa.serve.app import create_app, identity
from rnnqa.serve.process import request_log, setup_logging


def app():
    setup_logging()
    application = create_app(QAModel.load(os.environ["RNNQA_BUNDLE"]))
    service = application.state.service
    service.request_log = request_log()  # the request log as qa-serve writes it

    async def noop(service, data):
        question = data["question"]
        body = {"question": question, "answer": "Lima", "confidence": 0.9, "known": True,
                "bundle": identity(service.model.bundle.manifest)}
        return 200, body, [question]

    service.json_routes["/noop"] = ("/noop", noop)
    return application
