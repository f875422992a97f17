"""qa-serve under load: `make bench-serve` (or `python benchmarks/serve.py`). Needs Debian's `wrk`.

For the default model (qa-train's defaults on the bundled dataset) and a large synthetic one (hidden 256,
20,000 answers, one epoch: its answers do not matter, its cost does), start `qa-serve` on a free
127.0.0.1 port twice — batching on (the default) and off (`--max-batch 1`) — and run `wrk` (closed loop,
one thread, 5 s) at concurrency 1, 16, 64 and 256 against one-question `POST /v1/answer`, and against the
same stack's no-op route `GET /v2/health/live` (the HTTP floor); then 256-question requests against
in-process `answer_batch(256)`; then, for the default model at concurrency 64, the same pair of routes
under each event loop (`--loop asyncio|uvloop`) and with `--workers 2`. Requests/s and p99 latency as
wrk reports them; ratios from this one run. Writes benchmarks/serve.json.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rnnqa.data.table import default_dataset_path, load_qa_csv
from rnnqa.export.bundle import export_bundle
from rnnqa.runtime import QAModel
from rnnqa.train.run import save_run
from rnnqa.train.trainer import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' wrapper of a qa-serve process
from bundles import default_bundle  # noqa: E402
from tests.serve.server import Server  # noqa: E402
CONCURRENCY = (1, 16, 64, 256)
QUESTION = "What is the capital of Peru?"
LUA = 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [==[{body}]==]\n'


def wrk(url: str, concurrency: int, seconds: int, body: str | None, tmp: Path) -> dict:
    args = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if body is not None:
        script = tmp / "post.lua"
        script.write_text(LUA.format(body=json.dumps(body)))  # a Lua long string: the JSON as it is
        args += ["-s", str(script)]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": round(rps), "p99_ms": round(float(p99.group(1)) * scale, 2),
            "non_2xx": int(errors.group(1)) if errors else 0}


def large_bundle(tmp: Path) -> Path:
    rng = random.Random(0)
    words = [f"w{i}" for i in range(5000)]
    csv = tmp / "large.csv"
    with open(csv, "w", encoding="utf-8") as fh:
        fh.write("question,answer\n")
        for i in range(20_000):
            fh.write(f"{' '.join(rng.choices(words, k=rng.randint(4, 12)))} q{i}?,answer {i}\n")
    result = train(load_qa_csv(csv), {"hidden_dim": 256}, TrainConfig(device="cpu", epochs=1, batch_size=512))
    save_run(result, tmp / "large-run", data=str(csv))
    return export_bundle(tmp / "large-run", tmp / "large-bundle", hf_tokenizer=False).bundle_dir


def in_process_batch_qps(bundle: Path, batch: list[str], repeats: int = 7) -> float:
    model = QAModel.load(bundle)
    model.answer_batch(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.answer_batch(batch)
        times.append(time.perf_counter() - start)
    return len(batch) / sorted(times)[len(times) // 2]


def measure(bundle: Path, seconds: int, tmp: Path) -> dict:
    pool = load_qa_csv(default_dataset_path()).questions if "large" not in bundle.name else [QUESTION]
    batch = (pool * 256)[:256]
    out: dict = {"one_question": {}, "floor": {}, "no_batching": {}}
    for label, args in (("batching", ()), ("no_batching", ("--max-batch", "1"))):
        server = Server(bundle, *args)
        try:
            for c in CONCURRENCY:
                key = "one_question" if label == "batching" else "no_batching"
                out[key][str(c)] = wrk(f"{server.url}/v1/answer", c, seconds, {"question": QUESTION}, tmp)
                if label == "batching":
                    out["floor"][str(c)] = wrk(f"{server.url}/v2/health/live", c, seconds, None, tmp)
            if label == "batching":
                result = wrk(f"{server.url}/v1/answer", 4, seconds, {"questions": batch}, tmp)
                out["batch_256"] = {**result, "questions_per_s": result["rps"] * 256,
                                    "in_process_questions_per_s": round(in_process_batch_qps(bundle, batch))}
        finally:
            server.stop()
    return out


VARIANTS = {"asyncio, 1 worker": (), "uvloop, 1 worker": ("--loop", "uvloop"),
            "asyncio, 2 workers": ("--workers", "2"), "uvloop, 2 workers": ("--loop", "uvloop", "--workers", "2")}


def variants(bundle: Path, seconds: int, tmp: Path) -> dict:
    out = {}
    for label, args in VARIANTS.items():
        server = Server(bundle, *args)
        try:
            out[label] = {"answer": wrk(f"{server.url}/v1/answer", 64, seconds, {"question": QUESTION}, tmp),
                          "floor": wrk(f"{server.url}/v2/health/live", 64, seconds, None, tmp)}
        finally:
            server.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "serve.json")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("needs wrk (apt-get install -y wrk)")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        bundle = default_bundle(tmp)
        results = {"default": measure(bundle, args.seconds, tmp), "large": measure(large_bundle(tmp), args.seconds, tmp),
                   "variants_64": variants(bundle, args.seconds, tmp)}
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))
    print(f"\nwrote {args.out}")


def render(results: dict) -> str:
    lines = ["| model | concurrency | batching: req/s, p99 ms | batching off | no-op floor |", "| --- | --- | --- | --- | --- |"]
    models = {k: v for k, v in results.items() if k != "variants_64"}
    for model, r in models.items():
        for c in map(str, CONCURRENCY):
            cell = lambda x: f"{x['rps']}, {x['p99_ms']}" + (f" ({x['non_2xx']} non-2xx)" if x["non_2xx"] else "")
            lines.append(f"| {model} | {c} | {cell(r['one_question'][c])} | {cell(r['no_batching'][c])} | "
                         f"{cell(r['floor'][c])} |")
    lines.append("")
    for model, r in models.items():
        b = r["batch_256"]
        lines.append(f"{model}: 256-question requests {b['questions_per_s']} questions/s (p99 {b['p99_ms']} ms) vs "
                     f"in-process answer_batch(256) {b['in_process_questions_per_s']}: "
                     f"{b['questions_per_s'] / b['in_process_questions_per_s']:.2f}×")
    d, big = results["default"], results["large"]
    lines.append(f"default @64: {d['one_question']['64']['rps'] / d['floor']['64']['rps']:.2f}× the floor's req/s, "
                 f"p99 {d['one_question']['64']['p99_ms'] / d['floor']['64']['p99_ms']:.2f}× the floor's")
    lines.append(f"large @64: batching {big['one_question']['64']['rps'] / big['no_batching']['64']['rps']:.2f}× the "
                 f"req/s of batching off; p99 {big['one_question']['64']['p99_ms']} vs "
                 f"{big['no_batching']['64']['p99_ms']} ms")
    lines += ["", "| default model, concurrency 64 | /v1/answer: req/s, p99 ms | no-op floor | ratio |", "| --- | --- | --- | --- |"]
    for label, r in results["variants_64"].items():
        a, f = r["answer"], r["floor"]
        lines.append(f"| {label} | {a['rps']}, {a['p99_ms']} | {f['rps']}, {f['p99_ms']} | {a['rps'] / f['rps']:.2f}× |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
