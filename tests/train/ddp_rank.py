"""One rank of the torchrun test (tests/train/test_distributed.py): runs ``qa-train``'s command in this
process, then leaves what the test checks in DUMP_DIR: this rank's trained weights, and a marker for
each rank that called ``save_run``. Not a test module itself (torchrun starts it)."""

import os
import sys
from pathlib import Path

import torch

import rnnqa.train.run
import rnnqa.train.trainer
from rnnqa.train.cli import main

dump = Path(os.environ["DUMP_DIR"])
rank = os.environ["RANK"]
results = []
train, save_run = rnnqa.train.trainer.train, rnnqa.train.run.save_run


def recording_train(*args, **kwargs):
    results.append(train(*args, **kwargs))
    return results[-1]


def recording_save_run(*args, **kwargs):
    (dump / f"saved-by-rank{rank}").touch()
    return save_run(*args, **kwargs)


rnnqa.train.trainer.train = recording_train
rnnqa.train.run.save_run = recording_save_run
args = sys.argv[1:]
if os.environ.get("RANK1_CSV") and rank == "1":  # a rank that reads other data (a node with another file)
    args[0] = os.environ["RANK1_CSV"]
main(args, standalone_mode=False)  # a typed error exits 1 here, as qa-train does
torch.save(results[0].model.state_dict(), dump / f"rank{rank}.pt")

