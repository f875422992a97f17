"""`answer` against the teaching notebook's own `predict`, in one process run (the #16 speed anchor).

Runs ../shared/anchors/notebook_predict.py (it trains the notebook's model and times its predict on one
torch thread, cycling through the 90 seed questions), then times `QAModel.answer` on the same questions
the same way (median of 5 × 2,000 calls), and prints both and their ratio as one JSON line.

    python benchmarks/anchor.py BUNDLE      # a bundle trained on the seed CSV (qa-train defaults)
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import runpy
import statistics
import sys
import time
from pathlib import Path

from rnnqa.runtime import QAModel

SHARED = Path(__file__).resolve().parents[2] / "shared"
ANCHOR = SHARED / "anchors" / "notebook_predict.py"
SEED_CSV = SHARED / "seed" / "100_Unique_QA_Dataset.csv"


def main() -> None:
    bundle = sys.argv[1]
    sys.argv = [str(ANCHOR), str(SEED_CSV)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(str(ANCHOR), run_name="__main__")
    anchor = json.loads(out.getvalue().strip().splitlines()[-1])
    with open(SEED_CSV, encoding="utf-8") as fh:
        questions = [row["question"] for row in csv.DictReader(fh)]
    model = QAModel.load(bundle)
    for question in questions:
        model.answer(question)
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for k in range(2000):
            model.answer(questions[k % len(questions)])
        runs.append((time.perf_counter() - start) / 2000 * 1e6)
    answer_us = statistics.median(runs)
    print(json.dumps({"notebook_predict_us": anchor["predict_us"], "answer_us": round(answer_us, 1),
                      "predict_over_answer": round(anchor["predict_us"] / answer_us, 2)}))


if __name__ == "__main__":
    main()
