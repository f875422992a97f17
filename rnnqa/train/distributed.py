"""Data-parallel training under ``torchrun``: the process group, who this process is, and all-reduces.

``torchrun --nproc-per-node N qa-train …`` starts N copies of ``qa-train``; each reads its rank from the
environment torchrun sets, joins one process group (gloo on CPU, NCCL on CUDA, picked from the device) and
trains a :class:`~torch.nn.parallel.DistributedDataParallel` replica on its share of every batch. Outside
torchrun nothing here runs and training is the single-process loop.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from rnnqa.errors import ConfigError, TrainError

_TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
# The other ranks wait for rank 0 to report and write the run, which takes as long as the data set's
# quality report: not NCCL's 10-minute watchdog, a gloo group of its own with a day's timeout.
_CONTROL_TIMEOUT = timedelta(hours=24)
# torch 2.13 renamed DDP's broadcast_buffers; older releases (pyproject allows ≥ 2.4) know only the old name
_NO_BUFFER_SYNC = ({"forward_sync_buffers": False}
                   if "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters
                   else {"broadcast_buffers": False})


@dataclass(frozen=True)
class Distributed:
    """This process's place in a process group that :func:`process_group` has joined."""

    rank: int  # 0 … world_size - 1; rank 0 alone writes the run directory
    world_size: int  # processes in the group, over every node
    local_rank: int  # this process's index on its node: its GPU on CUDA
    backend: str  # "gloo" (CPU) or "nccl" (CUDA)
    control: object = field(default=None, compare=False, repr=False)  # gloo group: agreement and rank 0's outcome

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """The device this rank trains on: its own GPU on CUDA (``LOCAL_RANK``), else ``device``."""
        return torch.device("cuda", self.local_rank) if device.type == "cuda" else device

    def wrap(self, model: torch.nn.Module, device: torch.device) -> DistributedDataParallel:
        """``model`` (on ``device``) as a DDP replica. Buffers are not copied from rank 0 before each step:
        the gate's tables are the same on every rank and never change."""
        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                       **_NO_BUFFER_SYNC)

    def agree(self, what: str, value: str) -> None:
        """Raise on every rank unless every rank passes the same ``value`` (e.g. a digest of its data).

        Raises:
            ConfigError: naming ``what`` the ranks disagree on.
        """
        values: list = [None] * self.world_size
        dist.all_gather_object(values, value, group=self.control)
        if len(set(values)) > 1:
            ranks = [r for r, v in enumerate(values) if v != values[0]]
            raise ConfigError(f"the {self.world_size} data-parallel processes disagree on {what}: rank(s) "
                              f"{', '.join(map(str, ranks))} differ from rank 0 (same CSV, same path and the "
                              "same options on every node?)")

    def finish(self, failure: str | None) -> None:
        """Rank 0 tells every rank how reporting and writing the run went (None: it succeeded); the others
        wait here for it.

        Raises:
            TrainError: on the other ranks, when rank 0 failed (rank 0 raises its own error).
        """
        box = [failure]
        dist.broadcast_object_list(box, src=0, group=self.control)
        if not self.is_main and box[0] is not None:
            raise TrainError(f"rank 0 could not write the run: {box[0]}")

    def sum(self, values: list[float], device: torch.device) -> list[float]:
        """Each value summed over every rank (NCCL reduces only CUDA tensors, gloo CPU ones)."""
        tensor = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.tolist()

    def check_replicas(self, model: torch.nn.Module) -> None:
        """Raise on every rank unless every rank holds exactly rank 0's weights and buffers: DDP keeps them
        equal step by step, so a difference means nondeterminism or a bug (different data is caught before
        training, by :meth:`agree`).

        Raises:
            TrainError: the replicas differ.
        """
        differs = torch.zeros((), dtype=torch.int64, device=next(model.parameters()).device)
        for name, tensor in model.state_dict().items():
            reference = tensor.clone()
            dist.broadcast(reference, src=0)
            if not torch.equal(reference, tensor):
                differs += 1
        dist.all_reduce(differs, op=dist.ReduceOp.SUM)
        if int(differs):
            raise TrainError(f"the {self.world_size} data-parallel replicas ended with different weights "
                             f"({int(differs)} tensor(s) differ from rank 0's)")


def launched_by_torchrun() -> bool:
    """True when the environment says this process is one rank of a torchrun job."""
    return all(name in os.environ for name in _TORCHRUN_VARIABLES)


@contextmanager
def process_group(device: torch.device) -> Iterator[Distributed | None]:
    """Join the torchrun job this process belongs to for the ``with`` block; None outside torchrun.

    Raises:
        ConfigError: the torchrun environment is inconsistent, or asks for more GPUs than the node has.
    """
    if not launched_by_torchrun():
        yield None
        return
    try:
        rank, world_size, local_rank = (int(os.environ[name]) for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    except ValueError as exc:
        raise ConfigError(f"torchrun's RANK/WORLD_SIZE/LOCAL_RANK are not integers: {exc}") from exc
    backend = "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl":
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(f"LOCAL_RANK {local_rank} but this node has {torch.cuda.device_count()} GPU(s): "
                              "use --nproc-per-node at most the GPU count")
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend, rank=rank, world_size=world_size)
    try:
        control = dist.new_group(backend="gloo", timeout=_CONTROL_TIMEOUT)
        yield Distributed(rank, world_size, local_rank, backend, control)
    finally:
        dist.destroy_process_group()
