"""The WordNet lexicon's effect (QUALITY.md, "Synonyms"): aliases off / on × gate rule old / new, 5 seeds,
on the synonym rewordings, the rewordings, near misses and OOD questions, at the bundle's threshold, with
the TF-IDF peer at its best dev threshold. `python benchmarks/lexicon.py [--dataset seed|default] [--seeds 5]`.
`--speed`: the defaults with and without the lexicon (aliases and synonym gate), exported: `answer`'s
median time side by side on the synonym rewordings and the training questions, and each bundle file's bytes (BENCHMARKS.md).

Every set is split by alternating rows into dev (compared, chosen on) and test (reported only).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

from rnnqa.data.table import load_qa_csv
from rnnqa.train.eager import eager_probabilities
from rnnqa.eval.questions import read_near_misses
from rnnqa.train.trainer import TrainConfig, train

from quality import DATASETS, NEAR, OOD, THRESHOLDS, halves  # noqa: E402  (benchmarks/ on sys.path)

ROOT = Path(__file__).resolve().parents[1]
SYNONYMS = {name: ROOT / "quality" / f"{name}_synonyms.csv" for name in DATASETS}
VARIANTS = {
    "aliases off, gate rule old": {"aliases": False, "synonym_gate": False},
    "aliases off, gate rule new": {"aliases": False},
    "aliases on, gate rule old": {"synonym_gate": False},
    "aliases on, gate rule new (= qa-train defaults)": {},
    "aliases on, gate rule new, GloVe-initialised embeddings (--glove)": {"glove": True},
}
PEER = "peer: TF-IDF char_wb 3-5-grams, nearest training question"


def sets(dataset):
    train_csv, reworded_csv = DATASETS[dataset]
    pairs = load_qa_csv(train_csv)
    near, _ = read_near_misses(NEAR[dataset])
    ood = [line.strip() for line in OOD.read_text().splitlines() if line.strip()]
    out = {"train": (pairs.questions, pairs.answers)}
    for name, table in (("synonyms", load_qa_csv(SYNONYMS[dataset])), ("reworded", load_qa_csv(reworded_csv))):
        for split, idx in zip(("dev", "test"), halves(list(range(len(table))))):
            out[f"{name} {split}"] = ([table.questions[i] for i in idx], [table.answers[i] for i in idx])
    for name, items in (("near", near), ("ood", ood)):
        for split, part in zip(("dev", "test"), halves(items)):
            out[f"{name} {split}"] = (part, None)
    return pairs, out


def scores(probs_of, answers, data, threshold):
    """Per set: top-1 and correct-and-confident (answered sets), or the share rejected (near, ood)."""
    out = {}
    for name, (questions, labels) in data.items():
        probs = probs_of(questions)
        top, conf = probs.argmax(1), probs.max(1) >= threshold
        if labels is None:
            out[name] = float(np.mean(~conf))
        else:
            right = top == np.array([answers.index(a) for a in labels])
            out[name] = (float(np.mean(right)), float(np.mean(right & conf)))
    return out


def peer(pairs, data):
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit(pairs.questions)
    train_x = vectorizer.transform(pairs.questions)
    answers = sorted(set(pairs.answers))
    labels = np.array([answers.index(a) for a in pairs.answers])

    def probs(questions):
        sims = (vectorizer.transform(questions) @ train_x.T).toarray()
        out = np.zeros((len(questions), len(answers)))
        out[np.arange(len(questions)), labels[sims.argmax(1)]] = sims.max(1)
        return out

    def pick(t):  # dev: most correct and confident synonyms among thresholds rejecting ≥ 95% of OOD
        s = scores(probs, answers, {k: v for k, v in data.items() if "dev" in k}, t)
        return (s["ood dev"] >= 0.95, s["synonyms dev"][1] + s["reworded dev"][1])
    best = max(THRESHOLDS, key=pick)
    return best, scores(probs, answers, data, best)


def speed(dataset: str, repeats: int = 41) -> None:
    import tempfile

    from rnnqa.export.bundle import export_bundle
    from rnnqa.runtime import QAModel
    from rnnqa.train.run import save_run
    from run import interleaved

    pairs, data = sets(dataset)
    questions = data["synonyms dev"][0] + data["synonyms test"][0] + list(pairs.questions)
    with tempfile.TemporaryDirectory() as tmp:
        models, sizes = {}, {}
        for name, overrides in (("without lexicon", {"aliases": False, "synonym_gate": False}), ("with lexicon", {})):
            run = save_run(train(pairs, None, TrainConfig(device="cpu", seed=0, **overrides)), Path(tmp) / name / "run")
            bundle = export_bundle(run, Path(tmp) / name / "bundle").bundle_dir
            models[name] = QAModel.load(bundle)
            sizes[name] = {p.name: p.stat().st_size for p in sorted(bundle.iterdir())}

        def answer_all(model):
            return lambda: [model.answer(q) for q in questions]
        times = interleaved({name: answer_all(m) for name, m in models.items()}, calls=5, repeats=repeats)
    per = {name: t / len(questions) * 1e6 for name, t in times.items()}
    print(f"answer, µs per question (median of {repeats}, {len(questions)} questions, interleaved): "
          + ", ".join(f"{n} {v:.1f}" for n, v in per.items())
          + f"; ratio {per['with lexicon'] / per['without lexicon']:.3f}")
    print("| file | without lexicon | with lexicon | growth |\n| --- | --- | --- | --- |")
    total = [0, 0]
    for file in sizes["with lexicon"]:
        a, b = sizes["without lexicon"].get(file, 0), sizes["with lexicon"][file]
        total[0] += a
        total[1] += b
        print(f"| `{file}` | {a:,} | {b:,} | {b - a:+,} |")
    print(f"| all | {total[0]:,} | {total[1]:,} | {total[1] - total[0]:+,} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", choices=list(DATASETS), default="seed")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--speed", action="store_true")
    args = parser.parse_args()
    if args.speed:
        return speed(args.dataset)
    pairs, data = sets(args.dataset)
    cells = ["synonyms", "reworded"]
    print(f"| setting ({args.dataset}; median of {args.seeds} seeds; dev / test) | threshold | train right | "
          "synonyms: top-1 | synonyms: correct & confident | reworded: top-1 | reworded: correct & confident | "
          "near misses answered confidently | OOD rejected |")
    print("| --- " * 9 + "|")
    out = {}
    rows = []
    for name, overrides in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        per_seed = []
        for seed in range(args.seeds):
            result = train(pairs, None, TrainConfig(device="cpu", seed=seed, **overrides))
            threshold = result.train_config.threshold
            probs_of = lambda q, r=result: eager_probabilities(r.model, r.vocab, q)  # noqa: E731
            per_seed.append(scores(probs_of, result.vocab.answers, data, threshold))
        rows.append((name, threshold, per_seed))
    best, peer_scores = peer(pairs, data)
    rows.append((PEER, best, [peer_scores]))
    for name, threshold, per_seed in rows:
        med = lambda key, i=None: statistics.median(s[key] if i is None else s[key][i] for s in per_seed)  # noqa: E731
        train_right = min(s["train"][0] for s in per_seed)
        parts = [f"{med(f'{c} dev', i):.3f} / {med(f'{c} test', i):.3f}" for c in cells for i in (0, 1)]
        near = f"{1 - med('near dev'):.3f} / {1 - med('near test'):.3f}"
        ood = f"{med('ood dev'):.3f} / {med('ood test'):.3f}"
        print(f"| {name} | {threshold:.2f} | {train_right:.3f} | {' | '.join(parts)} | {near} | {ood} |", flush=True)
        out[name] = per_seed
    (ROOT / "benchmarks" / f"lexicon-{args.dataset}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
