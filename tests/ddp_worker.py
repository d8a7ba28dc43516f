"""One process of the DDP tests in test_distributed.py (gloo on CPU).

Usage: python tests/ddp_worker.py RANK WORLD_SIZE INIT_FILE OUT_FILE

Both ranks train; rank 0 saves the final state_dict to OUT_FILE. Then rank 1
stalls (the test kills it) while rank 0 enters one more collective, which
must fail with an error once rank 1 is gone.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

from snntorch_tssl import SynapticSequence, tssl

STEPS = 4
GLOBAL_BATCH = 8


def build_model() -> nn.Sequential:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(12, 10, bias=False),
        SynapticSequence(tau_s=3.0, tau_m=5.0, spike_grad=tssl()),
        nn.Linear(10, 4, bias=False),
        SynapticSequence(tau_s=3.0, tau_m=5.0, spike_grad=tssl()),
    ).double()
    for layer in (model[0], model[2]):
        nn.init.kaiming_normal_(layer.weight)
    return model


def global_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1000 + step)
    x = torch.rand(5, GLOBAL_BATCH, 12, generator=generator, dtype=torch.float64) * 2
    target = torch.rand(GLOBAL_BATCH, 4, generator=generator, dtype=torch.float64) * 3
    return x, target


def train(model: nn.Module, steps: int, rank: int = 0, world_size: int = 1) -> None:
    """AdamW on the mean loss over the local share of each global batch (DDP averages the gradients)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    share = GLOBAL_BATCH // world_size
    for step in range(steps):
        x, target = global_batch(step)
        local = slice(rank * share, (rank + 1) * share)
        spk = model(x[:, local])
        loss = (spk.sum(0) - target[local]).pow(2).sum(1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def main() -> None:
    rank, world_size, init_file, out_file = sys.argv[1:5]
    rank, world_size = int(rank), int(world_size)
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size, timeout=timedelta(seconds=30)
    )
    model = nn.parallel.DistributedDataParallel(build_model())
    train(model, STEPS, rank, world_size)
    if rank == 0:
        torch.save(model.module.state_dict(), out_file)
    dist.barrier()
    print(f"rank {rank} trained", flush=True)
    if rank == 1:
        time.sleep(600)  # a stalled worker; the test kills it
    else:
        dist.all_reduce(torch.ones(1))  # never completes: rank 1 is gone


if __name__ == "__main__":
    main()
