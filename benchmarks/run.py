"""rnnqa benchmarks: `make bench` (or `python benchmarks/run.py`). Prints a table, writes JSON.

Every comparison runs side by side in this one process run: contenders are interleaved within each
repetition and we report the median over repetitions, plus ratios of those medians.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from rnnqa.bundle_format import ANSWER_INDEX, CONFIDENCE, SINGLE_OUTPUT_NAMES
from rnnqa.data.padding import pad_rows
from rnnqa.data.table import default_dataset_path, load_qa_csv
from rnnqa.runtime import QAModel
from rnnqa.runtime.session import make_session
from rnnqa.train.run import load_run
from rnnqa.train.trainer import TrainConfig, train

from bundles import default_bundle

ROOT = Path(__file__).resolve().parents[1]
SEED_CSV = ROOT.parent / "shared" / "seed" / "100_Unique_QA_Dataset.csv"
BIN = Path(sys.executable).parent
# What QAModel reads from each graph; every bare onnxruntime baseline fetches the same outputs.
DECODED = [ANSWER_INDEX, CONFIDENCE]  # model.onnx
SINGLE = list(SINGLE_OUTPUT_NAMES)  # model_single.onnx: the softmax


def interleaved(contenders: dict[str, Callable[[], object]], calls: int, repeats: int) -> dict[str, float]:
    """Median over ``repeats`` of the mean seconds per call; contenders alternate within a repeat."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for fn in contenders.values():
        fn()  # warm-up
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            samples[name].append((time.perf_counter() - start) / calls)
    return {name: statistics.median(values) for name, values in samples.items()}


def bench_latency(bundle: Path, run_dir: Path, question: str, repeats: int) -> dict:
    model = QAModel.load(bundle)
    session = make_session(bundle / "model.onnx")
    single = make_session(bundle / "model_single.onnx")
    row = model.encode(question)
    feeds = {"input_ids": np.array([row], dtype=np.int64), "lengths": np.array([len(row)], dtype=np.int64)}
    single_feeds = {"input_ids": np.array(row, dtype=np.int64)[:, None]}
    run = load_run(run_dir)
    eager, vocab = run.model.eval(), run.vocab
    scripted = torch.jit.load(str(bundle / "model.torchscript.pt"))

    def notebook_predict(net):
        def predict():  # the notebook's way: tokenize, tensor, forward, softmax, max
            ids = torch.tensor([vocab.encode(question)])
            with torch.no_grad():
                probs = torch.softmax(net(ids, torch.tensor([ids.shape[1]])), dim=1)
                value, index = torch.max(probs, dim=1)
            return vocab.answers[index.item()] if value.item() >= 0.5 else "I don't know"

        return predict

    # onnxruntime against onnxruntime first, alone: torch's idle threads (it keeps two) must not share the
    # cores with them; three times the repeats of 1,000 calls, since ~2 µs separate answer from bare.
    times = interleaved(
        {
            "answer": lambda: model.answer(question),
            "bare_session_run": lambda: single.run(SINGLE, single_feeds),  # the graph answer runs
            "bare_model_onnx": lambda: session.run(DECODED, feeds),  # the batch graph, one row: answer before
        },
        calls=1000,
        repeats=3 * repeats,
    )
    torch_times = interleaved(
        {
            "answer": lambda: model.answer(question),
            "eager_notebook": notebook_predict(eager),
            "torchscript": notebook_predict(scripted),
        },
        calls=300,
        repeats=repeats,
    )
    return {
        "us": {**{k: round(v * 1e6, 1) for k, v in times.items()},
               **{k: round(v * 1e6, 1) for k, v in torch_times.items() if k != "answer"}},
        "answer_vs_bare": round(times["answer"] / times["bare_session_run"], 2),
        "model_onnx_vs_answer": round(times["bare_model_onnx"] / times["answer"], 2),
        "eager_vs_answer": round(torch_times["eager_notebook"] / torch_times["answer"], 2),  # each within its run
        "torchscript_vs_answer": round(torch_times["torchscript"] / torch_times["answer"], 2),
    }


def bench_batches(bundle: Path, questions: list[str], repeats: int) -> dict:
    model = QAModel.load(bundle)
    session = make_session(bundle / "model.onnx")
    rng = random.Random(0)
    out = {}
    for size in (1, 32, 256):
        batch = [rng.choice(questions) for _ in range(size)]
        ids, lengths = pad_rows([model.encode(q) for q in batch])
        times = interleaved(
            {
                "answer_batch": lambda: model.answer_batch(batch),
                "bare_session_run": lambda: session.run(DECODED, {"input_ids": ids, "lengths": lengths}),
            },
            calls=max(3, 600 // size),
            repeats=repeats,
        )
        out[str(size)] = {
            "questions_per_s": {k: round(size / v) for k, v in times.items()},
            "answer_batch_vs_bare": round(times["answer_batch"] / times["bare_session_run"], 2),
        }
    return out


def bench_threads(bundle: Path, questions: list[str], repeats: int) -> dict:
    """Intra-op threads for onnxruntime: 1 (our default) vs 2, one question and a batch of 256."""
    models = {n: QAModel.load(bundle, threads=n) for n in (1, 2)}
    batch = (questions * 2)[:256]
    single = interleaved({f"threads_{n}": (lambda m=m: m.answer(questions[0])) for n, m in models.items()},
                         calls=300, repeats=repeats)
    many = interleaved({f"threads_{n}": (lambda m=m: m.answer_batch(batch)) for n, m in models.items()},
                       calls=5, repeats=repeats)
    return {"answer_us": {k: round(v * 1e6, 1) for k, v in single.items()},
            "answer_batch_256_ms": {k: round(v * 1e3, 2) for k, v in many.items()}}


def _child_run(argv: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one fresh process, measured from a wrapper process."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter(); subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", wrapper, *argv], capture_output=True, text=True, check=True)
    seconds, rss = out.stdout.split()
    return float(seconds), int(rss)


def bench_cold_start(bundle: Path, question: str, repeats: int) -> dict:
    # rnnqa's modules as an installed package has them, compiled (pip compiles a wheel's modules, as it did
    # numpy's and onnxruntime's; an editable install under PYTHONDONTWRITEBYTECODE, as here, never writes them).
    compileall.compile_dir(str(ROOT / "rnnqa"), quiet=1)
    ids = QAModel.load(bundle).encode(question)
    bare = (
        "import numpy as np, onnxruntime as ort\n"
        f"s = ort.InferenceSession({str(bundle / 'model.onnx')!r}, providers=['CPUExecutionProvider'])\n"
        f"print(s.run({DECODED!r}, {{'input_ids': np.array([{ids}]), 'lengths': np.array([{len(ids)}])}})[0])\n"
    )
    script = (
        "import torch\n"
        f"m = torch.jit.load({str(bundle / 'model.torchscript.pt')!r})\n"
        f"print(m(torch.tensor([{ids}]), torch.tensor([{len(ids)}])).argmax())\n"
    )
    commands = {
        "qa_ask": [str(BIN / "qa-ask"), "--bundle", str(bundle), question],
        "bare_onnxruntime": [sys.executable, "-c", bare],
        "torch_torchscript": [sys.executable, "-c", script],
    }
    samples: dict[str, list[tuple[float, int]]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, argv in commands.items():
            samples[name].append(_child_run(argv))
    seconds = {k: statistics.median(s for s, _ in v) for k, v in samples.items()}
    return {
        "ms": {k: round(v * 1e3) for k, v in seconds.items()},
        "peak_rss_mib": {k: round(max(r for _, r in v) / 1024, 1) for k, v in samples.items()},
        "qa_ask_vs_bare": round(seconds["qa_ask"] / seconds["bare_onnxruntime"], 2),
        "torch_vs_qa_ask": round(seconds["torch_torchscript"] / seconds["qa_ask"], 2),
    }


def _closure(requirements: list[str]) -> set[str]:
    """Installed distributions needed by ``requirements`` (names), following their requirements."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = list(requirements)
    while todo:
        req = Requirement(todo.pop())
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = req.name.lower().replace("_", "-")
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        todo.extend(dist.requires or [])
    return seen


def _size_mib(names: set[str]) -> float:
    total = 0
    for name in names:
        dist = metadata.distribution(name)
        for f in dist.files or []:
            path = Path(dist.locate_file(f))
            if path.is_file():
                total += path.stat().st_size
    return round(total / 2**20, 1)


def bench_footprint() -> dict:
    requires = metadata.distribution("rnnqa").requires or []
    base = [r for r in requires if "extra ==" not in r]
    train_extra = [r.split(";")[0] for r in requires if 'extra == "train"' in r]
    base_set = _closure(base)
    train_set = _closure(base + train_extra)
    return {
        "base_install_mib": _size_mib(base_set),
        "train_install_mib": _size_mib(train_set),
        "base_packages": sorted(base_set),
    }


def synthetic_csv(path: Path, rows: int, classes: int = 2000) -> Path:
    rng = random.Random(0)
    words = [f"w{i}" for i in range(5000)]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("question,answer\n")
        for i in range(rows):
            fh.write(f"{' '.join(rng.choices(words, k=rng.randint(4, 12)))}?,answer {i % classes}\n")
    return path


def bench_training(tmp: Path, seed_csv: Path) -> dict:
    out = {}
    for name, csv, batch, epochs in (
        ("seed_csv", seed_csv, 16, 20),
        ("synthetic_200k", synthetic_csv(tmp / "synthetic.csv", 200_000), 256, 1),
    ):
        start = time.perf_counter()
        pairs = load_qa_csv(csv)
        load_s = time.perf_counter() - start
        result = train(pairs, None, TrainConfig(device="cpu", epochs=epochs, batch_size=batch, early_stop=False))
        per_epoch = statistics.median(m.seconds for m in result.history)
        out[name] = {
            "rows": len(pairs), "batch_size": batch, "epochs": epochs, "device": "cpu",
            "load_s": round(load_s, 2), "s_per_epoch": round(per_epoch, 3),
            "samples_per_s": round(len(pairs) / per_epoch),
        }
    out["gpu"] = "no CUDA device on this machine" if not torch.cuda.is_available() else "see --gpu"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.manual_seed(0)
    seed_csv = SEED_CSV if SEED_CSV.exists() else default_dataset_path()
    question = "What is the capital of Peru?"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        pairs = load_qa_csv(default_dataset_path())
        bundle = default_bundle(tmp)  # the run stays at tmp / "run" for the eager contenders
        results = {
            "machine": {"platform": platform.platform(), "python": platform.python_version(),
                        "cpus": os.cpu_count(), "torch": torch.__version__,
                        "onnxruntime": metadata.version("onnxruntime")},
            "latency": bench_latency(bundle, tmp / "run", question, args.repeats),
            "batch": bench_batches(bundle, pairs.questions, args.repeats),
            "threads": bench_threads(bundle, pairs.questions, args.repeats),
            # 15 new processes each by default: with 5 the qa-ask/bare ratio ranged 1.06-1.35x on one day
            "cold_start": bench_cold_start(bundle, question, 2 * args.repeats + 1),
            "footprint": bench_footprint(),
            "training": bench_training(tmp, seed_csv),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))
    print(f"\nwrote {args.out}")


def render(r: dict) -> str:
    lat, cold, foot = r["latency"], r["cold_start"], r["footprint"]
    lines = [
        "| measure | rnnqa | baseline(s) | ratio |",
        "| --- | --- | --- | --- |",
        f"| single question, µs (median) | answer {lat['us']['answer']} | bare session.run on model_single.onnx "
        f"{lat['us']['bare_session_run']}; on model.onnx {lat['us']['bare_model_onnx']}; "
        f"eager notebook {lat['us']['eager_notebook']}; TorchScript {lat['us']['torchscript']} | "
        f"answer/bare {lat['answer_vs_bare']}×; model.onnx/answer {lat['model_onnx_vs_answer']}×; "
        f"eager/answer {lat['eager_vs_answer']}×; TorchScript/answer {lat['torchscript_vs_answer']}× |",
    ]
    for size, b in r["batch"].items():
        q = b["questions_per_s"]
        lines.append(f"| answer_batch({size}), questions/s | {q['answer_batch']} | bare session.run {q['bare_session_run']} | "
                     f"answer_batch/bare time {b['answer_batch_vs_bare']}× |")
    th = r["threads"]
    lines.append(f"| onnxruntime intra-op threads 1 vs 2 | answer {th['answer_us']['threads_1']} vs "
                 f"{th['answer_us']['threads_2']} µs | answer_batch(256) {th['answer_batch_256_ms']['threads_1']} vs "
                 f"{th['answer_batch_256_ms']['threads_2']} ms | |")
    lines.append(f"| cold start, ms (median) | qa-ask {cold['ms']['qa_ask']} | bare onnxruntime script {cold['ms']['bare_onnxruntime']}; "
                 f"torch + TorchScript {cold['ms']['torch_torchscript']} | qa-ask/bare {cold['qa_ask_vs_bare']}×; torch/qa-ask {cold['torch_vs_qa_ask']}× |")
    rss = cold["peak_rss_mib"]
    lines.append(f"| peak RSS, MiB | qa-ask {rss['qa_ask']} | bare onnxruntime {rss['bare_onnxruntime']}; torch {rss['torch_torchscript']} | |")
    lines.append(f"| installed size, MiB | base {foot['base_install_mib']} | with `train` extra {foot['train_install_mib']} | "
                 f"{round(foot['train_install_mib'] / foot['base_install_mib'], 1)}× |")
    for name, t in r["training"].items():
        if isinstance(t, dict):
            lines.append(f"| training {name} ({t['rows']} rows, batch {t['batch_size']}, {t['device']}) | "
                         f"{t['s_per_epoch']} s/epoch, {t['samples_per_s']} samples/s | load {t['load_s']} s | |")
    lines.append(f"| GPU | {r['training']['gpu']} | | |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
