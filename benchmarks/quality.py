"""Answer-quality sweep: which training settings generalise to reworded questions and reject
out-of-domain ones. `python benchmarks/quality.py [--dataset seed|default] [--seeds N]`;
`--near` prints the near-miss table instead (QUALITY.md, "Near misses"), with the character n-gram
peer (scikit-learn's TF-IDF over char_wb 3-5-grams, nearest training question by cosine) as a row.

Dev sets live in quality/: reworded questions (alternate rows: dev, used to compare settings and to
pick the threshold; test, reported only), out-of-domain questions and near misses (same split).
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
from rnnqa.train.eager import eager_probabilities
from rnnqa.eval.metrics import quality
from rnnqa.eval.questions import DEFAULT_NEAR_MISS, DEFAULT_OOD, read_near_misses
from rnnqa.train.trainer import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {
    "seed": (ROOT.parent / "shared" / "seed" / "100_Unique_QA_Dataset.csv", ROOT / "quality" / "seed_reworded.csv"),
    "default": (default_dataset_path(), ROOT / "quality" / "default_reworded.csv"),
}
OOD = DEFAULT_OOD
NEAR = {"seed": ROOT / "quality" / "seed_near_miss.csv", "default": DEFAULT_NEAR_MISS}

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
    # near misses (--near)
    "without the substitution gate (2026-11-25 defaults)": ({}, {"gate": False}),
    "with the substitution gate (= qa-train defaults)": ({}, {}),
    "swapped-word rows 0.1, without the gate": ({}, {"gate": False, "swapped_words": 0.1}),
    "swapped-word rows 0.1, with the gate": ({}, {"swapped_words": 0.1}),
}
NEAR_VARIANTS = [name for name in VARIANTS if "gate" in name]
PEER = "peer: TF-IDF char_wb 3-5-grams, nearest training question (scikit-learn)"


THRESHOLDS = [round(0.05 * i, 2) for i in range(4, 20)]


def halves(items):
    return items[0::2], items[1::2]


def eval_sets(dataset):
    train_csv, reworded_csv = DATASETS[dataset]
    pairs, reworded = load_qa_csv(train_csv), load_qa_csv(reworded_csv)
    ood = [line.strip() for line in OOD.read_text().splitlines() if line.strip()]
    near, _ = read_near_misses(NEAR[dataset])
    return pairs, reworded, halves(ood), halves(near)


def run_variant(name, model_cfg, train_cfg, dataset, seeds):
    pairs, reworded, (ood_dev, ood_test), (near_dev, near_test) = eval_sets(dataset)
    dev_idx, test_idx = halves(list(range(len(reworded))))
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
        near_probs = {"dev": eager_probabilities(result.model, result.vocab, near_dev),
                      "test": eager_probabilities(result.model, result.vocab, near_test)}
        for split, idx in (("dev", dev_idx), ("test", test_idx)):
            for threshold in THRESHOLDS:
                q = quality(probs[idx], labels[idx], threshold, ood_probs[split], near_probs[split])
                rows.append({"seed": seed, "split": split, "train_accuracy": train_acc,
                             "epochs": len(result.history), "seconds": seconds, **q.to_json()})
    return rows


def peer_rows(dataset):
    """The ten-line peer a user could write: char n-gram TF-IDF, nearest training question by cosine,
    the cosine as its confidence. Deterministic: one "seed"."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    pairs, reworded, oods, nears = eval_sets(dataset)
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit(pairs.questions)
    train_x = vectorizer.transform(pairs.questions)
    answers = sorted(set(pairs.answers))
    train_labels = np.array([answers.index(a) for a in pairs.answers])

    def probs(questions):  # one-hot at the nearest question's answer, scaled by its cosine
        sims = (vectorizer.transform(questions) @ train_x.T).toarray()
        out = np.zeros((len(questions), len(answers)))
        out[np.arange(len(questions)), train_labels[sims.argmax(1)]] = sims.max(1)
        return out

    labels = np.array([answers.index(a) for a in reworded.answers])
    train_acc = float(np.mean(probs(pairs.questions).argmax(1) == train_labels))
    reworded_probs = probs(reworded.questions)
    rows = []
    for split, idx, ood, near in zip(("dev", "test"), halves(list(range(len(reworded)))), oods, nears):
        ood_probs, near_probs = probs(ood), probs(near)
        for threshold in THRESHOLDS:
            q = quality(reworded_probs[idx], labels[idx], threshold, ood_probs, near_probs)
            rows.append({"seed": 0, "split": split, "train_accuracy": train_acc, "epochs": 0, "seconds": 0.0,
                         **q.to_json()})
    return rows


def summarise(rows, split, threshold):
    pick = [r for r in rows if r["split"] == split and r["threshold"] == threshold]
    med = lambda k: statistics.median(r[k] for r in pick)  # noqa: E731
    return {"train": min(r["train_accuracy"] for r in pick), "top1": med("accuracy"),
            "correct_confident": med("correct_and_confident"), "rejection": med("rejection_rate"),
            "near": med("near_miss_rejection"), "wrong": med("confidently_wrong"),
            "epochs": med("epochs"), "seconds": med("seconds"), "threshold": threshold}


def best_threshold(rows, min_rejection=0.95, near=False):
    """On the dev split: the threshold with the most correct-and-confident answers among those
    rejecting ≥ min_rejection of OOD (and of the near misses, with ``near``; medians over seeds);
    else the one rejecting most."""
    stats = [summarise(rows, "dev", t) for t in THRESHOLDS]
    rejection = (lambda s: min(s["rejection"], s["near"])) if near else (lambda s: s["rejection"])  # noqa: E731
    ok = [s for s in stats if rejection(s) >= min_rejection]
    if ok:
        return max(ok, key=lambda s: (s["correct_confident"], -s["threshold"]))["threshold"]
    return max(stats, key=lambda s: (rejection(s), s["correct_confident"]))["threshold"]


def near_table(dataset, seeds, names):
    print(f"| setting ({dataset}; median of {seeds} seeds) | threshold | dev: top-1 / correct & confident / "
          "confidently wrong / OOD rejected / near misses rejected | test: the same |")
    print("| --- | --- | --- | --- |")
    out = {}
    for name in [*names, PEER]:
        rows = peer_rows(dataset) if name == PEER else run_variant(name, *VARIANTS[name], dataset, seeds)
        out[name] = rows
        picks = {0.5, DEFAULT_THRESHOLD, best_threshold(rows), best_threshold(rows, 0.9, near=True)}
        for threshold in sorted(picks):
            cells = []
            for split in ("dev", "test"):
                s = summarise(rows, split, threshold)
                cells.append(f"{s['top1']:.3f} / {s['correct_confident']:.3f} / {s['wrong']:.3f} / "
                             f"{s['rejection']:.3f} / {s['near']:.3f}")
            print(f"| {name} | {threshold:.2f} | {cells[0]} | {cells[1]} |", flush=True)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", choices=list(DATASETS), default="seed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--near", action="store_true", help="the near-miss table, with the n-gram peer")
    parser.add_argument("--variant", action="append", default=[],
                        help='extra setting as JSON: {"name": ..., "model": {...}, "train": {...}}')
    args = parser.parse_args()
    for text in args.variant:
        spec = json.loads(text)
        VARIANTS[spec["name"]] = (spec.get("model", {}), spec.get("train", {}))
        args.only = (args.only or []) + [spec["name"]]
    if args.near:
        out = near_table(args.dataset, args.seeds, args.only or NEAR_VARIANTS)
        (ROOT / "benchmarks" / f"quality-near-{args.dataset}.json").write_text(json.dumps(out, indent=1))
        return
    print(f"| setting ({args.dataset}; median of {args.seeds} seeds) | train acc (min) | threshold | "
          "dev: top-1 / correct & confident / OOD rejected | test: top-1 / correct & confident / OOD rejected |")
    print("| --- | --- | --- | --- | --- |")
    out = {}
    for name, (model_cfg, train_cfg) in VARIANTS.items():
        if (args.only and name not in args.only) or (not args.only and name in NEAR_VARIANTS):
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
