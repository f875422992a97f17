"""Training throughput: `make bench-train` (BENCHMARKS.md, "Training throughput"). Prints a table, writes JSON.

Questions per second for the default model on a synthetic data set (200k rows, 20k answers), for the trainer
(`rnnqa.train.trainer.train`, its own clock around the training steps) and for a bare PyTorch loop that does
the same forward and backward work: per step, the same model on as many padded rows as the trainer stacks
(the batch's noisy copies, the questions as written, random-word rows, subject-masked and word-masked rows),
one cross-entropy, Adam. Side by side in one run: in this process on CPU (and on CUDA when there is one), then
under torchrun with 1 and 2 processes (gloo on CPU). Medians over the measured epochs/chunks, the first of
each left out as warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from rnnqa.data.table import QAPairs
from rnnqa.data.tensors import encode_pairs
from rnnqa.train.distributed import Distributed, process_group
from rnnqa.train.model import QAClassifier
from rnnqa.train.trainer import TrainConfig, resolve_device, train

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "train.json"
TARGET_RATIO = 0.8  # the trainer ≥ 80% of the bare loop's questions/s on each device


def synthetic_pairs(rows: int, answers: int, seed: int = 0) -> QAPairs:
    """``rows`` questions over ``answers`` answers: each answer a two-word subject, asked about with one of
    200 relation words in a few frames (like a user's FAQ export, at scale)."""
    g = torch.Generator().manual_seed(seed)
    frames = ["what is the {r} of {s}", "tell me the {r} of {s}", "{s} {r}", "which {r} does {s} have",
              "what {r} has {s}", "give the {r} for {s} please"]
    relation = torch.randint(0, 200, (rows,), generator=g).tolist()
    frame = torch.randint(0, len(frames), (rows,), generator=g).tolist()
    questions, labels = [], []
    for i in range(rows):
        a = i % answers
        questions.append(frames[frame[i]].format(r=f"rel{relation[i]}", s=f"subj{a} kind{a % 997}"))
        labels.append(f"answer {a}")
    return QAPairs(questions, labels, list(range(2, rows + 2)), "synthetic")


def rows_per_question(cfg: TrainConfig) -> int:
    """How many rows the trainer's step stacks per batch question with these settings."""
    return (1 + (cfg.clean_rows > 0) + round(cfg.outliers) + (cfg.masked_outliers > 0) + (cfg.masked_words > 0)
            + (cfg.swapped_words > 0))


def measure_trainer(pairs: QAPairs, cfg: TrainConfig, distributed: Distributed | None):
    """(figures, the TrainResult): the trainer's own clock around its training steps, epoch by epoch."""
    result = train(pairs, None, cfg, distributed=distributed)
    rates = [m.samples / m.train_seconds for m in result.history[1:]]
    return {"questions_per_s": statistics.median(rates), "epochs": len(rates), "steps": cfg.steps_per_epoch,
            "gate": result.model_config.gate_questions > 0}, result


def measure_bare(result, pairs: QAPairs, cfg: TrainConfig, chunks: int, distributed: Distributed | None) -> dict:
    """The same model shape, Adam and cross-entropy on as many padded rows per step as the trainer's."""
    world = 1 if distributed is None else distributed.world_size
    device = resolve_device(cfg.device) if distributed is None else distributed.device(resolve_device(cfg.device))
    data = encode_pairs(pairs, result.vocab, result.model_config.max_len)
    lengths_cpu = data.lengths
    data = data.to(device)
    torch.manual_seed(cfg.seed)
    model = QAClassifier(result.model_config).to(device)
    net = model if distributed is None else distributed.wrap(model, device)
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    loss_fn = nn.CrossEntropyLoss()
    step_rows = cfg.batch_size // world * rows_per_question(cfg)
    g = torch.Generator().manual_seed(cfg.seed + (0 if distributed is None else distributed.rank))
    rates = []
    for _ in range(chunks + 1):
        start = time.perf_counter()
        for _ in range(cfg.steps_per_epoch):
            idx = torch.randint(0, len(lengths_cpu), (step_rows,), generator=g)
            width = int(lengths_cpu[idx].max())
            idx = idx.to(device, non_blocking=True)
            logits = net(data.input_ids[idx, :width], data.lengths[idx])
            loss = loss_fn(logits, data.labels[idx])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        rates.append(cfg.steps_per_epoch * cfg.batch_size / (time.perf_counter() - start))
    return {"questions_per_s": statistics.median(rates[1:]), "chunks": chunks}


def measure(args, distributed: Distributed | None, device: str) -> dict:
    pairs = synthetic_pairs(args.rows, args.answers)
    cfg = TrainConfig(device=device, epochs=args.epochs + 1, batch_size=args.batch_size, steps_per_epoch=args.steps)
    trainer, result = measure_trainer(pairs, cfg, distributed)
    bare = measure_bare(result, pairs, cfg, args.epochs, distributed)
    return {"trainer": trainer, "bare": bare, "ratio": trainer["questions_per_s"] / bare["questions_per_s"],
            "rows_per_question": rows_per_question(cfg)}


def worker(args) -> None:
    """One rank under torchrun; rank 0 writes the figures to ``args.worker``."""
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    with process_group(resolve_device(args.device)) as distributed:
        figures = measure(args, distributed, args.device)
        if distributed is None or distributed.is_main:
            Path(args.worker).write_text(json.dumps(figures))


def under_torchrun(args, processes: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.json"
        threads = max(1, (os.cpu_count() or 1) // processes)
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes),
                   __file__, "--worker", str(out), "--device", args.device, "--rows", str(args.rows),
                   "--answers", str(args.answers), "--batch-size", str(args.batch_size), "--steps", str(args.steps),
                   "--epochs", str(args.epochs)]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(HERE.parent)}
        subprocess.run(command, env=env, check=True, timeout=3600)
        return json.loads(out.read_text()) | {"threads_per_process": threads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--answers", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=0, help="global batch (default 512 on CPU, 4096 on CUDA)")
    parser.add_argument("--steps", type=int, default=8, help="optimiser steps per measured epoch")
    parser.add_argument("--epochs", type=int, default=3, help="measured epochs (one more runs first, as warm-up)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--skip-torchrun", action="store_true")
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows, batch_size = [], args.batch_size
    for device in devices:
        args.device, args.batch_size = device, batch_size or (4096 if device == "cuda" else 512)
        rows.append({"setting": f"{device}, one process", "batch": args.batch_size, **measure(args, None, device)})
        if not args.skip_torchrun:
            for processes in [p for p in (1, 2) if device == "cpu" or p <= torch.cuda.device_count()]:
                rows.append({"setting": f"{device}, torchrun × {processes}", "batch": args.batch_size,
                             **under_torchrun(args, processes)})
    record = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                          "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
              "rows": args.rows, "answers": args.answers, "results": rows}
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\n{args.rows:,} rows, {args.answers:,} answers, default model; questions/s, median\n")
    print("| setting | trainer | bare loop | trainer / bare | target ≥ 0.8 |")
    print("| --- | ---: | ---: | ---: | --- |")
    for r in rows:
        print(f"| {r['setting']} | {r['trainer']['questions_per_s']:,.0f} | {r['bare']['questions_per_s']:,.0f} | "
              f"{r['ratio']:.2f} | {'met' if r['ratio'] >= TARGET_RATIO else 'not met'} |")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
