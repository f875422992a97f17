"""Where #14's remaining gaps come from (QUALITY.md, "Where the remaining gaps are").

`python benchmarks/quality_gaps.py [--seeds 3]` (about a minute): trains qa-train's defaults on the seed
CSV and on the bundled dataset for each seed, exports each run, answers every reworded question and near
miss of quality/ (dev and test) with the bundle at its threshold, and counts the misses by what the
question holds: a word the model never saw (<UNK> after tokenizing) or none, and whether the
substitution gate closed on the answer.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
from pathlib import Path

from quality import eval_sets
from rnnqa.data.text import UNK_ID
from rnnqa.export.bundle import export_bundle
from rnnqa.runtime import QAModel
from rnnqa.train.run import save_run
from rnnqa.train.trainer import TrainConfig, train


def kind(model: QAModel, question: str, answer: str) -> str:
    row = model.encode(question)
    gate = model._state.gate  # the tables the runtime applies to the single-question graph
    if gate is not None and gate.scale(row, model.vocab.answers.index(answer)) < 1.0:
        return "gate closed"
    return "a word never seen" if UNK_ID in row else "neither"


def count(dataset: str, seeds: int) -> collections.Counter:
    pairs, reworded, _, (near_dev, near_test) = eval_sets(dataset)
    totals = collections.Counter()
    for seed in range(seeds):
        with tempfile.TemporaryDirectory() as tmp:
            save_run(train(pairs, None, TrainConfig(device="cpu", seed=seed)), Path(tmp) / "run")
            model = QAModel.load(export_bundle(Path(tmp) / "run", Path(tmp) / "bundle").bundle_dir)
        for question, want in zip(reworded.questions, reworded.answers):
            answer = model.answer(question)
            totals["reworded"] += 1
            if answer.text != want:
                totals["reworded, wrong top-1"] += 1
            elif not answer.known:
                totals[f"reworded, right but not confident: {kind(model, question, answer.text)}"] += 1
        for question in near_dev + near_test:
            answer = model.answer(question)
            totals["near misses"] += 1
            if answer.known:
                totals[f"near misses answered confidently: {kind(model, question, answer.text)}"] += 1
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    for dataset in ("seed", "default"):
        totals = count(dataset, args.seeds)
        print(f"{dataset} ({args.seeds} seeds):")
        for key, value in sorted(totals.items()):
            print(f"  {key}: {value}")


if __name__ == "__main__":
    main()
