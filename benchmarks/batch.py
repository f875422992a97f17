"""Answering stored questions: `make bench-batch` (or `python benchmarks/batch.py`).

For Parquet files of 100k, 300k and 1M rows (`id`, `question`: the bundled dataset's questions with seeded
variation in case, punctuation and filler words, 1 in 50 empty), measure questions per second of, side by
side in this one run:

- `answer_batch`: in-process `QAModel.answer_batch` over the question column in chunks of 4096 (no file I/O:
  the ceiling);
- `local`: `answer_file(model, input.parquet, output.parquet)`, the `qa-ask --input/--output` library path;
- `ray 1`, `ray 2`: `answer_with_ray` with 1 and 2 actors on a local Ray cluster started once
  (`num_cpus` = this machine's CPUs; the cluster's start is reported apart, each job's actor start-up is in).

Medians of `--repeats` runs, contenders interleaved within a repeat. Every Ray output is checked against the
local one (same rows, same order, same answers). Writes benchmarks/batch.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import ray

from rnnqa.data.table import default_dataset_path, load_qa_csv
from rnnqa.runtime import QAModel
from rnnqa.batch.ray_engine import answer_with_ray
from rnnqa.batch.files import DEFAULT_BATCH_SIZE, answer_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bundles import default_bundle  # noqa: E402

SIZES = (100_000, 300_000, 1_000_000)
FILLERS = ("", "", "please", "tell me", "quick question:", "hey,")


def make_questions(n: int, seed: int = 0) -> list[str]:
    """``n`` questions from the bundled dataset with seeded variation (1 in 50 empty: an error row)."""
    pool = load_qa_csv(default_dataset_path()).questions
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 50 == 49:
            out.append("")
            continue
        q = rng.choice(pool)
        q = {0: q, 1: q.lower(), 2: q.upper(), 3: q.rstrip("?")}[rng.randrange(4)]
        out.append(f"{rng.choice(FILLERS)} {q}".strip())
    return out


def write_input(path: Path, questions: list[str]) -> None:
    pq.write_table(pa.table({"id": pa.array(range(len(questions)), pa.int64()), "question": questions}), path,
                   row_group_size=65_536)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def in_process(model: QAModel, questions: list[str]) -> None:
    for i in range(0, len(questions), DEFAULT_BATCH_SIZE):
        chunk = [q for q in questions[i:i + DEFAULT_BATCH_SIZE] if q]  # answer_batch raises on a bad row
        model.answer_batch(chunk)


def same_output(local: Path, ray_dir: Path) -> bool:
    return pq.read_table(local).equals(pq.read_table(ray_dir))


def measure(bundle: Path, size: int, repeats: int, tmp: Path) -> dict:
    questions = make_questions(size)
    source = tmp / f"in-{size}.parquet"
    write_input(source, questions)
    model = QAModel.load(bundle)
    contenders = {
        "answer_batch": lambda: in_process(model, questions),
        "local": lambda: answer_file(model, source, tmp / "local.parquet"),
        "ray 1": lambda: answer_with_ray(bundle, source, tmp / "ray1.parquet", workers=1),
        "ray 2": lambda: answer_with_ray(bundle, source, tmp / "ray2.parquet", workers=2),
    }
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            samples[name].append(timed(fn))
    checks = {w: same_output(tmp / "local.parquet", tmp / f"ray{w}.parquet") for w in (1, 2)}
    for path in tmp.iterdir():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    seconds = {name: statistics.median(values) for name, values in samples.items()}
    return {"rows": size, "seconds": {k: round(v, 3) for k, v in seconds.items()},
            "questions_per_s": {k: round(size / v) for k, v in seconds.items()},
            "ray_output_equals_local": checks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, help="bundle to measure (default: train qa-train's defaults)")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "batch.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        bundle = args.bundle.resolve() if args.bundle else default_bundle(tmp / "model")
        work = tmp / "work"
        work.mkdir()
        start = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
        ray_start = time.perf_counter() - start
        logging.getLogger("ray.data").setLevel(logging.CRITICAL)
        try:
            rows = [measure(bundle, size, args.repeats, work) for size in args.sizes]
        finally:
            ray.shutdown()
    results = {"cpus": os.cpu_count(), "repeats": args.repeats, "batch_size": DEFAULT_BATCH_SIZE,
               "ray_cluster_start_s": round(ray_start, 2), "sizes": rows}
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))
    print(f"\nwrote {args.out}")


def render(results: dict) -> str:
    lines = [f"{results['cpus']} CPUs, medians of {results['repeats']}, chunks of {results['batch_size']}; "
             f"Ray cluster start {results['ray_cluster_start_s']} s (not in the figures)", "",
             "| rows | answer_batch q/s | local q/s (vs answer_batch) | ray 1 q/s | ray 2 q/s (vs ray 1) | "
             "ray output = local |", "| --- | --- | --- | --- | --- | --- |"]
    for r in results["sizes"]:
        q = r["questions_per_s"]
        lines.append(f"| {r['rows']:,} | {q['answer_batch']:,} | {q['local']:,} ({q['local'] / q['answer_batch']:.2f}×) | "
                     f"{q['ray 1']:,} | {q['ray 2']:,} ({q['ray 2'] / q['ray 1']:.2f}×) | "
                     f"{all(r['ray_output_equals_local'].values())} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
