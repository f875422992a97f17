"""Data-parallel training under torchrun: two gloo processes on the seed CSV, and the checks before it."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnqa.data.table import load_qa_csv
from rnnqa.errors import ConfigError
from rnnqa.train.distributed import Distributed, launched_by_torchrun
from rnnqa.train.trainer import TrainConfig, train

HERE = Path(__file__).parent
EPOCHS = 60


def test_the_global_batch_must_split_evenly_over_the_processes(seed_csv):
    with pytest.raises(ConfigError, match="does not split evenly over 3"):
        train(load_qa_csv(seed_csv), None, TrainConfig(device="cpu", epochs=1, batch_size=16),
              distributed=Distributed(rank=0, world_size=3, local_rank=0, backend="gloo"))


def test_outside_torchrun_training_is_single_process(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert not launched_by_torchrun()


def test_steps_per_epoch_caps_an_epoch_and_the_throughput_is_measured(seed_csv):
    config = TrainConfig(device="cpu", epochs=2, batch_size=8, steps_per_epoch=3)
    history = train(load_qa_csv(seed_csv), {"embed_dim": 8, "hidden_dim": 8}, config).history
    assert [m.samples for m in history] == [24, 24]
    assert all(0 < m.train_seconds <= m.seconds for m in history)


def _torchrun(root: Path, csv: Path, out: Path, epochs: int, **env) -> subprocess.CompletedProcess:
    """tests/train/ddp_rank.py (qa-train, recorded) under torchrun with two gloo processes."""
    env = {**os.environ, "DUMP_DIR": str(root), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parents[1]), **env}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               str(HERE / "ddp_rank.py"), str(csv), "--out", str(out), "--epochs", str(epochs),
               "--device", "cpu", "--quiet"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def torchrun_job(seed_csv, tmp_path_factory):
    """qa-train on the seed CSV with two gloo processes (2 × 8 questions per global batch of 16)."""
    root = tmp_path_factory.mktemp("ddp")
    done = _torchrun(root, seed_csv, root / "run", EPOCHS)
    assert done.returncode == 0, done.stderr[-3000:]
    return root, done


@pytest.mark.slow
def test_ranks_reading_different_data_are_refused_before_training(seed_csv, tmp_path):
    fewer = tmp_path / "fewer.csv"
    fewer.write_text("\n".join(seed_csv.read_text(encoding="utf-8").splitlines()[:-1]) + "\n", encoding="utf-8")
    done = _torchrun(tmp_path, seed_csv, tmp_path / "run", 2, RANK1_CSV=str(fewer))
    assert done.returncode != 0
    assert "disagree on the training data and settings: rank(s) 1 differ from rank 0" in done.stderr
    assert not (tmp_path / "run").exists() and not list(tmp_path.glob("saved-by-rank*"))


@pytest.mark.slow
def test_when_rank_0_cannot_write_the_run_every_rank_says_so_in_one_line(seed_csv, tmp_path):
    (tmp_path / "taken").write_text("a file where the run should go")
    done = _torchrun(tmp_path, seed_csv, tmp_path / "taken" / "run", 2)
    assert done.returncode != 0
    assert "error: " in done.stderr and "error: rank 0 could not write the run: " in done.stderr
    assert "[rank1]: Traceback" not in done.stderr and "[rank0]: Traceback" not in done.stderr


def test_every_rank_ends_with_the_same_weights(torchrun_job):
    root, _ = torchrun_job
    ranks = [torch.load(root / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    assert all(torch.equal(ranks[0][name], ranks[1][name]) for name in ranks[0])


def test_only_rank_0_writes_the_run_and_records_the_world_size(torchrun_job):
    root, done = torchrun_job
    assert sorted(p.name for p in root.glob("saved-by-rank*")) == ["saved-by-rank0"]
    assert done.stdout.count("wrote ") == 1
    config = json.loads((root / "run" / "config.json").read_text())
    assert config["world_size"] == 2 and config["epochs_run"] == EPOCHS
    assert not list(root.glob(".rnnqa-staging-*"))


def test_the_metrics_describe_the_whole_data_set(torchrun_job, seed_csv):
    from rnnqa.data.tensors import encode_pairs
    from rnnqa.train.run import load_run
    from rnnqa.train.trainer import evaluate

    root, _ = torchrun_job
    run = load_run(root / "run")
    with open(root / "run" / "metrics.csv", encoding="utf-8") as fh:
        last = list(csv.DictReader(fh))[-1]
    data = encode_pairs(load_qa_csv(seed_csv), run.vocab, run.model.config.max_len)
    loss, accuracy = evaluate(run.model, data, torch.nn.CrossEntropyLoss())
    assert float(last["train_accuracy"]) == pytest.approx(accuracy, abs=1e-9)
    assert float(last["train_loss"]) == pytest.approx(loss, rel=1e-4)


def test_the_run_exports_and_answers_every_training_question(torchrun_job, seed_csv, tmp_path):
    from rnnqa.export.bundle import export_bundle
    from rnnqa.runtime.model import QAModel

    root, _ = torchrun_job
    model = QAModel.load(export_bundle(root / "run", tmp_path / "bundle").bundle_dir)
    pairs = load_qa_csv(seed_csv)
    got = [a.text for a in model.answer_batch(list(pairs.questions))]
    assert got == list(pairs.answers)
