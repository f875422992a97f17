"""What every peer server runs, as a user would write it: rnnqa's tokenizer (``QAModel.encode``, so the
answers are the bundle's) and a plain single-threaded ``InferenceSession`` on ``model.onnx``, no gate beyond
what the graph has; and the constant, same-shaped answer of the POST no-ops.
"""

from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort

from rnnqa.runtime import QAModel


class BareModel:
    def __init__(self, bundle: str):
        self.model = QAModel.load(bundle, threads=1)  # the tokenizer, vocabulary and threshold
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(os.path.join(bundle, "model.onnx"), options,
                                            providers=["CPUExecutionProvider"])
        manifest = self.model.bundle.manifest
        self.bundle_id = {"model_sha256": manifest["files"]["model.onnx"], "created": manifest.get("created")}

    def answer(self, questions: list[str]) -> list[dict]:
        """One ``session.run`` for ``questions``, padded to the longest."""
        rows = [self.model.encode(q) for q in questions]
        ids = np.zeros((len(rows), max(map(len, rows))), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = row
        index, confidence = self.session.run(["answer_index", "confidence"], {
            "input_ids": ids, "lengths": np.array([len(r) for r in rows], dtype=np.int64)})
        return [{"question": q, "answer": self.model.vocab.answers[int(j)], "confidence": float(c),
                 "known": float(c) >= self.model.threshold, "bundle": self.bundle_id}
                for q, j, c in zip(questions, index, confidence)]

    def noop(self, question: str) -> dict:
        return {"question": question, "answer": "Lima", "confidence": 0.9, "known": True, "bundle": self.bundle_id}
