"""The server a user writes in an afternoon: FastAPI, a pydantic body, one ``InferenceSession.run`` per request.

It uses rnnqa's tokenizer (``QAModel.encode``) so its answers are the bundle's, and runs ``model.onnx``
with its own plain session: no batching, no gate beyond what the graph has. Also the stack's floors: a
GET no-op, and a POST no-op that parses the same body and writes a same-shaped answer.

    RNNQA_BUNDLE=dir uvicorn benchmarks.peers.fastapi_app:app
"""

from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI
from pydantic import BaseModel

from rnnqa.runtime import QAModel

BUNDLE = os.environ["RNNQA_BUNDLE"]
model = QAModel.load(BUNDLE, threads=1)  # the tokenizer, vocabulary and threshold
options = ort.SessionOptions()
options.intra_op_num_threads = options.inter_op_num_threads = 1
session = ort.InferenceSession(os.path.join(BUNDLE, "model.onnx"), options, providers=["CPUExecutionProvider"])
BUNDLE_ID = {"model_sha256": model.bundle.manifest["files"]["model.onnx"], "created": model.bundle.manifest.get("created")}
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
    row = model.encode(body.question)
    index, confidence = session.run(["answer_index", "confidence"], {
        "input_ids": np.array([row], dtype=np.int64), "lengths": np.array([len(row)], dtype=np.int64)})
    confidence = float(confidence[0])
    return Answer(question=body.question, answer=model.vocab.answers[int(index[0])], confidence=confidence,
                  known=confidence >= model.threshold, bundle=BUNDLE_ID)


@app.get("/noop")
def get_noop() -> dict:
    return {"live": True}


@app.post("/noop")
def post_noop(body: Question) -> Answer:
    return Answer(question=body.question, answer="Lima", confidence=0.9, known=True, bundle=BUNDLE_ID)
