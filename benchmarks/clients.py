"""Node and browser against Python: time per answer and per batch, side by side in one run.

`make bench-clients` (or `python benchmarks/clients.py [--bundle DIR]`). Trains qa-train's default model
on the bundled dataset unless a bundle is given, then starts clients/js/bench/driver.mjs once for Node
(onnxruntime-node) and once for the page in Chromium (onnxruntime-web, WebAssembly, one thread). Within
each repetition the three contenders run in turn on the same question (three rounds of 1,000 answers) or
the same 256 questions; figures are medians over repetitions, ratios are ratios of medians. Writes
benchmarks/clients.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from rnnqa.data.table import default_dataset_path, load_qa_csv
from rnnqa.runtime import QAModel

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "clients" / "js" / "bench" / "driver.mjs"
QUESTION = "What is the capital of Peru?"
CALLS = {"answer": 1000, "batch": 10}
ANSWER_ROUNDS = 3  # one-question timings per repetition: a run of ~15 µs calls moves with the machine's load


class Driver:
    """One driver.mjs process: a loaded model in Node or in a page, answering timing requests."""

    def __init__(self, target: str, bundle: Path, questions: Path, chromium: str | None):
        argv = ["node", str(DRIVER), "--target", target, "--bundle", str(bundle), "--question", QUESTION,
                "--questions", str(questions)] + (["--chromium", chromium] if chromium else [])
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.load_ms = self._read()["load_ms"]

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"driver exited with {self.process.wait()}")
        return json.loads(line)

    def time(self, request: dict) -> float:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read()["seconds"]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def python_timer(model: QAModel, pool: list[str]):
    def run(request: dict) -> float:
        start = time.perf_counter()
        if request["op"] == "answer":
            for _ in range(request["calls"]):
                model.answer(QUESTION)
        else:
            batch = pool[: request["size"]]
            for _ in range(request["calls"]):
                model.answer_batch(batch)
        return time.perf_counter() - start

    return run


def measure(bundle: Path, repeats: int, chromium: str | None) -> dict:
    pool = (load_qa_csv(default_dataset_path()).questions * 2)[:256]
    with tempfile.TemporaryDirectory() as tmp:
        questions = Path(tmp) / "questions.json"
        questions.write_text(json.dumps(pool), encoding="utf-8")
        start = time.perf_counter()
        model = QAModel.load(bundle)
        load_ms = {"python": (time.perf_counter() - start) * 1e3}
        contenders = {"python": python_timer(model, pool)}
        drivers = {"node": Driver("node", bundle, questions, None)}
        if chromium:
            drivers["browser"] = Driver("browser", bundle, questions, chromium)
        for name, driver in drivers.items():
            contenders[name] = driver.time
            load_ms[name] = driver.load_ms
        requests = {"answer": {"op": "answer", "calls": CALLS["answer"]},
                    "batch_256": {"op": "batch", "size": 256, "calls": CALLS["batch"]}}
        contenders["python"](requests["answer"])  # warm-up
        samples = {(kind, name): [] for kind in requests for name in contenders}
        for _ in range(repeats):
            for kind, request in requests.items():
                for _ in range(ANSWER_ROUNDS if kind == "answer" else 1):
                    for name, run in contenders.items():
                        samples[kind, name].append(run(request) / request["calls"])
        for driver in drivers.values():
            driver.close()
    median = {key: statistics.median(values) for key, values in samples.items()}
    answer_us = {name: round(median["answer", name] * 1e6, 1) for name in contenders}
    batch_qps = {name: round(256 / median["batch_256", name]) for name in contenders}
    return {
        "answer_us": answer_us,
        "answer_vs_python": {n: round(median["answer", n] / median["answer", "python"], 2) for n in contenders},
        "batch_256_questions_per_s": batch_qps,
        "batch_vs_python": {n: round(median["batch_256", n] / median["batch_256", "python"], 2) for n in contenders},
        "load_ms": {name: round(ms, 1) for name, ms in load_ms.items()},
        "repeats": repeats,
        "versions": {"onnxruntime (Python)": metadata.version("onnxruntime"),
                     "node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip(),
                     "chromium": chromium and subprocess.run([chromium, "--version"], capture_output=True,
                                                             text=True).stdout.strip()},
    }


def render(r: dict) -> str:
    names = list(r["answer_us"])
    lines = ["| measure | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    lines.append("| one question (`answer`), µs | " + " | ".join(
        f"{r['answer_us'][n]} ({r['answer_vs_python'][n]}×)" for n in names) + " |")
    lines.append("| batch of 256 (`answerBatch`), questions/s | " + " | ".join(
        f"{r['batch_256_questions_per_s'][n]} ({r['batch_vs_python'][n]}× the time)" for n in names) + " |")
    lines.append("| load and check the bundle, ms (once) | " + " | ".join(f"{r['load_ms'][n]}" for n in names) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundle", type=Path, help="bundle to time (default: train qa-train's default model)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "clients.json")
    args = parser.parse_args()
    if shutil.which("node") is None or not (ROOT / "clients" / "js" / "node_modules").is_dir():
        sys.exit("needs node and clients/js/node_modules (make js)")
    chromium = shutil.which("chromium")
    with tempfile.TemporaryDirectory() as tmp:
        if args.bundle is None:
            from bundles import default_bundle  # trains: torch only when no bundle is given
        bundle = args.bundle or default_bundle(Path(tmp))
        results = measure(bundle, args.repeats, chromium)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))
    if not chromium:
        print("(no chromium: the browser was not measured)")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
