"""Two-process DDP (gloo, CPU) training step of a stock snnTorch model whose neurons use tssl()."""

import datetime
import os
import socket
import tempfile

import snntorch as snn
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from snntorch import utils
from torch import nn

from snntorch_tssl import tssl

TIMEOUT_S = 180  # catches a hang; a loaded machine may take a while to start the workers


class StockMLP(nn.Module):
    """Stock nn.Linear + snn.Leaky with one shared tssl() rule, stepped over time-first input."""

    def __init__(self) -> None:
        super().__init__()
        rule = tssl()
        self.fc1, self.fc2 = nn.Linear(20, 16), nn.Linear(16, 5)
        self.lif1 = snn.Leaky(beta=0.8, reset_mechanism="zero", init_hidden=True, spike_grad=rule)
        self.lif2 = snn.Leaky(beta=0.8, reset_mechanism="zero", init_hidden=True, spike_grad=rule)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        utils.reset(self)
        return torch.stack([self.lif2(self.fc2(self.lif1(self.fc1(step)))) for step in x])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    torch.set_num_threads(1)  # the workers share the CPU
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=TIMEOUT_S))
    try:
        torch.manual_seed(0)
        model = nn.parallel.DistributedDataParallel(StockMLP())
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        gen = torch.Generator().manual_seed(100 + rank)  # different data on each replica
        x = torch.rand(8, 6, 20, generator=gen) * 2
        target = torch.rand(8, 6, 5, generator=gen)
        loss = ((model(x) - target) ** 2).sum()
        loss.backward()
        grads = [p.grad.clone() for p in model.parameters()]
        optimizer.step()
        torch.save(
            {"params": [p.detach().clone() for p in model.parameters()], "grads": grads, "x": x, "target": target},
            os.path.join(out_dir, f"rank{rank}.pt"),
        )
    finally:
        dist.destroy_process_group()


def test_ddp_training_step_keeps_replicas_in_sync():
    world = 2
    with tempfile.TemporaryDirectory() as out_dir:
        context = mp.spawn(_worker, args=(world, _free_port(), out_dir), nprocs=world, join=False)
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=2 * TIMEOUT_S)
        while not context.join(timeout=1):
            if datetime.datetime.now() > deadline:
                for process in context.processes:
                    process.kill()
                raise TimeoutError("DDP workers did not finish in time")
        results = [torch.load(os.path.join(out_dir, f"rank{r}.pt"), weights_only=True) for r in range(world)]

    for a, b in zip(results[0]["params"], results[1]["params"], strict=True):
        assert torch.equal(a, b)
    # The synchronised gradient is the mean of the per-replica tssl() gradients.
    torch.manual_seed(0)
    local = [StockMLP() for _ in range(world)]
    for model in local[1:]:
        model.load_state_dict(local[0].state_dict())
    per_replica = []
    for model, result in zip(local, results, strict=True):
        ((model(result["x"]) - result["target"]) ** 2).sum().backward()
        per_replica.append([p.grad for p in model.parameters()])
    for synced, g0, g1 in zip(results[0]["grads"], *per_replica, strict=True):
        torch.testing.assert_close(synced, (g0 + g1) / 2)
    assert any(g.abs().sum() > 0 for g in results[0]["grads"])
