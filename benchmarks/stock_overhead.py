"""Overhead of tssl() in stock snnTorch neurons against snnTorch's own surrogate.atan().

A stock snn.Leaky MLP 784-400-10 (reset "zero"), T = 25 steps, batch 128, on
CPU: one training step (forward loop, MSE on the spike counts, backward,
Adam step) with spike_grad=tssl() and with spike_grad=surrogate.atan(),
measured alternately in the same process. Prints the median times and
their ratio (target: <= 1.5x).

    PYTHONPATH=. python benchmarks/stock_overhead.py [--repeats 20] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import snntorch as snn
import torch
from _harness import add_repeat_arguments, apply_threads
from snntorch import surrogate
from torch import nn

from snntorch_tssl import tssl


class StockLeakyMLP(nn.Module):
    """Two stock snn.Leaky layers (reset "zero") behind nn.Linear, stepped over a [T, B, F] input."""

    def __init__(self, spike_grad_factory, sizes: tuple[int, int, int] = (784, 400, 10), beta: float = 0.9) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc1, self.fc2 = nn.Linear(sizes[0], sizes[1]), nn.Linear(sizes[1], sizes[2])
        self.lif1 = snn.Leaky(beta=beta, reset_mechanism="zero", spike_grad=spike_grad_factory())
        self.lif2 = snn.Leaky(beta=beta, reset_mechanism="zero", spike_grad=spike_grad_factory())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem1, mem2 = self.lif1.reset_mem(), self.lif2.reset_mem()
        out = []
        for step in x:
            spk1, mem1 = self.lif1(self.fc1(step), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2)
        return torch.stack(out)


def training_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, target: torch.Tensor) -> float:
    start = time.perf_counter()
    optimizer.zero_grad()
    loss = ((model(x).sum(0) - target) ** 2).mean()
    loss.backward()
    optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_repeat_arguments(parser, repeats=20, warmup=3)
    args = parser.parse_args()
    apply_threads(args)
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(25, 128, 784, generator=gen) < 0.2).float()
    target = torch.zeros(128, 10)
    target[torch.arange(128), torch.randint(0, 10, (128,), generator=gen)] = 20.0
    runs = {}
    for name, factory in (("tssl", tssl), ("atan", surrogate.atan)):
        model = StockLeakyMLP(factory)
        runs[name] = (model, torch.optim.Adam(model.parameters(), lr=1e-3), [])
    for i in range(args.warmup + args.repeats):
        for model, optimizer, times in runs.values():
            elapsed = training_step(model, optimizer, x, target)
            if i >= args.warmup:
                times.append(elapsed)
    median = {name: statistics.median(times) for name, (_, _, times) in runs.items()}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.repeats} repeats (median)")
    for name, value in median.items():
        print(f"  {name:5s} training step: {value * 1e3:8.1f} ms")
    print(f"  ratio tssl / atan: {median['tssl'] / median['atan']:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
