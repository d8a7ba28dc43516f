"""Distributed set-up: this process's place in a torchrun run (gloo on CPU, nccl on CUDA) and its data shards."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor
from torch.utils.data import Sampler

from snntorch_tssl.experiments.config import ConfigError

#: Device types the training command runs on.
DEVICE_TYPES = ("cpu", "cuda")


@dataclass(frozen=True)
class Process:
    """This process's place in a (possibly single-process) run."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(name: str) -> torch.device:
    """The device of a run: "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".

    :raises ConfigError: another device type (meta, mps, ...) or CUDA that is not available
    """
    wanted = "device must be 'auto', 'cpu', 'cuda' or 'cuda:N' (training runs on CPU or CUDA)"
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as error:
        raise ConfigError(f"{wanted}, got {name!r}") from error
    if device.type not in DEVICE_TYPES:
        raise ConfigError(f"{wanted}, got {name!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} was requested but CUDA is not available; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"device {name!r} does not exist: this machine has {torch.cuda.device_count()} CUDA devices")
    return device


def start_process(device: str) -> Process:
    """Join the torchrun process group if there is one (gloo on CPU, nccl on CUDA).

    :param device: the requested device (see :class:`snntorch_tssl.experiments.TrainConfig`)
    :returns: rank, world size and the device this process trains on
    """
    resolved = resolve_device(device)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Process(0, 1, resolved)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if resolved.type == "cuda":
        resolved = torch.device("cuda", local_rank)
        torch.cuda.set_device(resolved)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if resolved.type == "cuda" else "gloo")
    return Process(dist.get_rank(), dist.get_world_size(), resolved)


def all_reduce(values: Tensor, process: Process) -> Tensor:
    """Sum ``values`` over the processes of the run; returned on the CPU."""
    if process.world_size > 1:
        values = values.to(process.device)
        dist.all_reduce(values)
    return values.cpu()


class ShardSampler(Sampler[int]):
    """Every ``world_size``-th index starting at ``rank``, in order, without padding (exact test metrics)."""

    def __init__(self, size: int, process: Process) -> None:
        self.indices = list(range(process.rank, size, process.world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)
