"""The server a user writes in an afternoon: FastAPI, a pydantic body, one ``InferenceSession.run`` per request.

It runs the peers' bare model (``benchmarks/peers/bare.py``: rnnqa's tokenizer, a plain session on
``model.onnx``) one request at a time: no batching. Also the stack's floors: a GET no-op, and a POST no-op
that parses the same body and writes a same-shaped answer.

    RNNQA_BUNDLE=dir uvicorn benchmarks.peers.fastapi_app:app
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from pydantic import BaseModel

from benchmarks.peers.bare import BareModel

bare = BareModel(os.environ["RNNQA_BUNDLE"])
app = FastAPI()


class Question(BaseModel):
    question: str


class Answer(BaseModel):
    question: str
    answer: str
    confidence: float
    known: bool
    bundle: dict


@app.post("/v1/answer")
def answer(body: Question) -> Answer:
    return Answer(**bare.answer([body.question])[0])  # one session.run per request


@app.get("/noop")
def get_noop() -> dict:
    return {"live": True}


@app.post("/noop")
def post_noop(body: Question) -> Answer:
    return Answer(**bare.noop(body.question))
