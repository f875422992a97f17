"""Answer-quality sweep: which training settings generalise to reworded questions and reject
out-of-domain ones. `python benchmarks/quality.py [--dataset seed|default] [--seeds N]`.

Dev sets live in quality/: reworded questions (first half: dev, used to compare settings and to
pick the threshold; second half: test, reported only) and out-of-domain questions (same split).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from rnnqa.bundle_format import DEFAULT_THRESHOLD
from rnnqa.data.table import default_dataset_path, load_qa_csv
from rnnqa.eval.eager import eager_probabilities
from rnnqa.eval.metrics import quality
from rnnqa.train.trainer import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {
    "seed": (ROOT.parent / "shared" / "seed" / "100_Unique_QA_Dataset.csv", ROOT / "quality" / "seed_reworded.csv"),
    "default": (default_dataset_path(), ROOT / "quality" / "default_reworded.csv"),
}
OOD = ROOT / "quality" / "ood_questions.txt"

PLAIN = dict(token_dropout=0.0, unk_rate=0.0, shuffle_window=0.0, outliers=0.0, masked_outliers=0.0, masked_words=0.0,
             protect_subject=False, tokenizer="words", clean_rows=0.0)
AUG = dict(PLAIN, token_dropout=0.25, unk_rate=0.15, shuffle_window=2.0)
BEFORE = dict(tokenizer="words", clean_rows=0.0, masked_words=0.0)  # the 2026-11-24 defaults, base of the ablations
NO_WORDS = dict(masked_words=0.0, tokenizer="english")  # before 2026-11-25's word-masked rows and stemmer
ENGLISH = dict(tokenizer="english")  # before 2026-11-25's stemmer
LAST = {"readout": "last"}  # every model before 2026-11-25's max read-out
VARIANTS = {  # each of the first eleven adds one thing to the one before; TrainConfig() is qa-train's default
    "notebook recipe (RNN, notebook tokenizer, batch 1, 20 epochs, lr 1e-3)":
        ({"cell": "rnn", **LAST}, dict(PLAIN, tokenizer="notebook", epochs=20, batch_size=1, lr=1e-3)),
    "batched RNN, batch 16, lr 1e-2, early stop (first qa-train)":
        ({"cell": "rnn", **LAST}, dict(PLAIN, tokenizer="notebook", early_stop=True, epochs=300)),
    "GRU, words tokenizer, 150 epochs": ({"cell": "gru", **LAST}, dict(PLAIN)),
    "+ token dropout, <UNK>, word-order noise": ({"cell": "gru", **LAST}, dict(AUG)),
    "+ random-word outliers": ({"cell": "gru", **LAST}, dict(AUG, outliers=1.0)),
    "+ protected subject, masked outliers (2026-11-24 defaults)": (LAST, BEFORE),
    "+ english tokenizer (possessive 's dropped)": (LAST, dict(NO_WORDS, clean_rows=0.0)),
    "+ clean rows (2026-11-25 defaults)": (LAST, NO_WORDS),
    "+ max read-out": ({}, NO_WORDS),
    "+ masked content words": ({}, ENGLISH),
    "+ stemmer (= qa-train defaults)": ({}, {}),
    "2026-11-24 defaults, RNN cell": ({"cell": "rnn", **LAST}, BEFORE),
    "2026-11-24 defaults, LSTM cell": ({"cell": "lstm", **LAST}, BEFORE),
    "2026-11-24 defaults + label smoothing 0.1": (LAST, dict(BEFORE, label_smoothing=0.1)),
    "2026-11-24 defaults + early stop": (LAST, dict(BEFORE, early_stop=True)),
    "max read-out, RNN cell": ({"cell": "rnn"}, NO_WORDS),
    "max read-out, LSTM cell": ({"cell": "lstm"}, NO_WORDS),
    "masked content words, RNN cell": ({"cell": "rnn"}, ENGLISH),
    "masked content words, LSTM cell": ({"cell": "lstm"}, ENGLISH),
}


THRESHOLDS = [round(0.05 * i, 2) for i in range(4, 20)]


def halves(items):
    return items[0::2], items[1::2]


def run_variant(name, model_cfg, train_cfg, dataset, seeds):
    train_csv, reworded_csv = DATASETS[dataset]
    pairs, reworded = load_qa_csv(train_csv), load_qa_csv(reworded_csv)
    ood = [line.strip() for line in OOD.read_text().splitlines() if line.strip()]
    dev_idx, test_idx = halves(list(range(len(reworded))))
    ood_dev, ood_test = halves(ood)
    rows = []
    for seed in range(seeds):
        start = time.perf_counter()
        result = train(pairs, model_cfg, TrainConfig(device="cpu", seed=seed, **train_cfg))
        seconds = time.perf_counter() - start
        answers = result.vocab.answers
        labels = np.array([answers.index(a) for a in reworded.answers])
        probs = eager_probabilities(result.model, result.vocab, reworded.questions)
        train_probs = eager_probabilities(result.model, result.vocab, pairs.questions)
        train_acc = float(np.mean(train_probs.argmax(1) == np.array([answers.index(a) for a in pairs.answers])))
        ood_probs = {"dev": eager_probabilities(result.model, result.vocab, ood_dev),
                     "test": eager_probabilities(result.model, result.vocab, ood_test)}
        for split, idx in (("dev", dev_idx), ("test", test_idx)):
            for threshold in THRESHOLDS:
                q = quality(probs[idx], labels[idx], threshold, ood_probs[split])
                rows.append({"seed": seed, "split": split, "train_accuracy": train_acc,
                             "epochs": len(result.history), "seconds": seconds, **q.to_json()})
    return rows


def summarise(rows, split, threshold):
    pick = [r for r in rows if r["split"] == split and r["threshold"] == threshold]
    med = lambda k: statistics.median(r[k] for r in pick)  # noqa: E731
    return {"train": min(r["train_accuracy"] for r in pick), "top1": med("accuracy"),
            "correct_confident": med("correct_and_confident"), "rejection": med("rejection_rate"),
            "epochs": med("epochs"), "seconds": med("seconds"), "threshold": threshold}


def best_threshold(rows, min_rejection=0.95):
    """On the dev split: the threshold with the most correct-and-confident answers among those
    rejecting ≥ min_rejection of OOD (medians over seeds); else the one rejecting most."""
    stats = [summarise(rows, "dev", t) for t in THRESHOLDS]
    ok = [s for s in stats if s["rejection"] >= min_rejection]
    if ok:
        return max(ok, key=lambda s: (s["correct_confident"], -s["threshold"]))["threshold"]
    return max(stats, key=lambda s: (s["rejection"], s["correct_confident"]))["threshold"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", choices=list(DATASETS), default="seed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--variant", action="append", default=[],
                        help='extra setting as JSON: {"name": ..., "model": {...}, "train": {...}}')
    args = parser.parse_args()
    for text in args.variant:
        spec = json.loads(text)
        VARIANTS[spec["name"]] = (spec.get("model", {}), spec.get("train", {}))
        args.only = (args.only or []) + [spec["name"]]
    print(f"| setting ({args.dataset}; median of {args.seeds} seeds) | train acc (min) | threshold | "
          "dev: top-1 / correct & confident / OOD rejected | test: top-1 / correct & confident / OOD rejected |")
    print("| --- | --- | --- | --- | --- |")
    out = {}
    for name, (model_cfg, train_cfg) in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        rows = run_variant(name, model_cfg, train_cfg, args.dataset, args.seeds)
        out[name] = rows
        for threshold in sorted({0.5, DEFAULT_THRESHOLD, 0.7, best_threshold(rows)}):
            d, t = summarise(rows, "dev", threshold), summarise(rows, "test", threshold)
            print(f"| {name} | {d['train']:.3f} | {threshold:.2f} | {d['top1']:.3f} / {d['correct_confident']:.3f} / "
                  f"{d['rejection']:.3f} | {t['top1']:.3f} / {t['correct_confident']:.3f} / {t['rejection']:.3f} |",
                  flush=True)
    (ROOT / "benchmarks" / f"quality-{args.dataset}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
