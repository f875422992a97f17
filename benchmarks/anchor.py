"""`answer` against the teaching notebook's own `predict`, in one process run (the #16 speed anchor).

Runs ../shared/anchors/notebook_predict.py (it trains the notebook's model and times its predict on one
torch thread, cycling through the 90 seed questions), then times the notebook's `predict` and
`QAModel.answer` side by side on the same questions: they alternate within each of 9 repetitions of
2,000 calls, medians of those. This machine's timings drift by up to half between minutes (the
notebook's predict measured 86-159 µs within an hour), so only alternating contenders give a stable
ratio. Prints both and their ratio as one JSON line, with the anchor script's own figure.

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
        notebook = runpy.run_path(str(ANCHOR), run_name="__main__")  # its globals: predict, questions
    anchor = json.loads(out.getvalue().strip().splitlines()[-1])
    with open(SEED_CSV, encoding="utf-8") as fh:
        questions = [row["question"] for row in csv.DictReader(fh)]
    model = QAModel.load(bundle)
    contenders = {"predict": notebook["predict"], "answer": model.answer}
    runs = {name: [] for name in contenders}
    for fn in contenders.values():
        for question in questions:
            fn(question)
    for _ in range(9):
        for name, fn in contenders.items():
            start = time.perf_counter()
            for k in range(2000):
                fn(questions[k % len(questions)])
            runs[name].append((time.perf_counter() - start) / 2000 * 1e6)
    predict_us, answer_us = (statistics.median(runs[name]) for name in contenders)
    print(json.dumps({"notebook_predict_us": round(predict_us, 1), "answer_us": round(answer_us, 1),
                      "predict_over_answer": round(predict_us / answer_us, 2),
                      "anchor_script_predict_us": anchor["predict_us"]}))


if __name__ == "__main__":
    main()
