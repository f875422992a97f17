"""Node and browser against Python: time per answer and per batch, side by side in one run.

`make bench-clients` (or `python benchmarks/clients.py [--bundle DIR]`). Trains qa-train's default model
on the bundled dataset unless a bundle is given, then starts clients/js/bench/driver.mjs for Node
(its answer through onnxruntime's C API where koffi is installed), again for Node on onnxruntime-node's
binding (`node-binding`), and for the page in Chromium (onnxruntime-web, WebAssembly, one thread), each in
a run of its own against Python. Within each repetition the two contenders take turns on the same
question (three rounds of 1,000 answers) or the same 256 questions; figures are medians over repetitions,
ratios are ratios of medians within a run (Python's figures: the Node run's). Writes
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

    def __init__(self, target: str, bundle: Path, questions: Path, chromium: str | None, binding: bool = False):
        argv = ["node", str(DRIVER), "--target", target, "--bundle", str(bundle), "--question", QUESTION,
                "--questions", str(questions)] + (["--chromium", chromium] if chromium else [])
        argv += ["--binding"] if binding else []  # Node's answer on onnxruntime-node's run, not the C API's
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = self._read()
        self.load_ms, self.engine = ready["load_ms"], ready["engine"]

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
    """Node against Python, then (where Chromium is) the page against Python in a run of its own: the
    browser's idle processes share no run with Node's timings (with them, Node's ratio moved by a tenth)."""
    pool = (load_qa_csv(default_dataset_path()).questions * 2)[:256]
    with tempfile.TemporaryDirectory() as tmp:
        questions = Path(tmp) / "questions.json"
        questions.write_text(json.dumps(pool), encoding="utf-8")
        start = time.perf_counter()
        model = QAModel.load(bundle)
        load_ms = {"python": (time.perf_counter() - start) * 1e3}
        engines = {"python": "onnxruntime (Python), IOBinding"}
        python = python_timer(model, pool)
        runs = [side_by_side(python, "node", Driver("node", bundle, questions, None), repeats, load_ms, engines),
                side_by_side(python, "node-binding", Driver("node", bundle, questions, None, binding=True), repeats,
                             load_ms, engines)]
        if chromium:
            runs.append(side_by_side(python, "browser", Driver("browser", bundle, questions, chromium), repeats,
                                     load_ms, engines))
    median = {key: value for run in reversed(runs) for key, value in run.items()}  # Python's: the Node run's
    ratio = {key: value / run["answer" if key[0] == "answer" else "batch_256", "python"]
             for run in runs for key, value in run.items()}
    names = ["python", *(name for run in runs for kind, name in run if kind == "answer" and name != "python")]
    return {
        "answer_us": {n: round(median["answer", n] * 1e6, 1) for n in names},
        "answer_vs_python": {n: round(ratio["answer", n], 2) for n in names},
        "batch_256_questions_per_s": {n: round(256 / median["batch_256", n]) for n in names},
        "batch_vs_python": {n: round(ratio["batch_256", n], 2) for n in names},
        "load_ms": {name: round(ms, 1) for name, ms in load_ms.items()},
        "engines": engines,
        "repeats": repeats,
        "versions": {"onnxruntime (Python)": metadata.version("onnxruntime"),
                     "node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip(),
                     "chromium": chromium and subprocess.run([chromium, "--version"], capture_output=True,
                                                             text=True).stdout.strip()},
    }


def side_by_side(python, name: str, driver: Driver, repeats: int, load_ms: dict, engines: dict) -> dict:
    """Medians (seconds per call) of Python and ``driver`` taking turns: {(kind, contender): median}."""
    load_ms[name], engines[name] = driver.load_ms, driver.engine
    contenders = {"python": python, name: driver.time}
    requests = {"answer": {"op": "answer", "calls": CALLS["answer"]},
                "batch_256": {"op": "batch", "size": 256, "calls": CALLS["batch"]}}
    python(requests["answer"])  # warm-up
    samples = {(kind, n): [] for kind in requests for n in contenders}
    try:
        for _ in range(repeats):
            for kind, request in requests.items():
                for _ in range(ANSWER_ROUNDS if kind == "answer" else 1):
                    for n, run in contenders.items():
                        samples[kind, n].append(run(request) / request["calls"])
    finally:
        driver.close()
    return {key: statistics.median(values) for key, values in samples.items()}


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
