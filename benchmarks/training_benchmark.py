"""A training step of the paper's MLP (784-400-400-10) and MNIST CNN (15C5-P2-40C5-P2-300-10) at T = 5 and 30.

Compares, in one process: the networks built from SynapticSequence + tssl,
SynapticSequence + atan, and the same networks built from stock
snn.Synaptic(reset_delay=False) + surrogate.atan() stepped in a Python loop
(layers applied per step, as in snnTorch's tutorials). A step is: forward,
loss, backward and an AdamW update.

Usage::

    PYTHONPATH=. python benchmarks/training_benchmark.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from _harness import (
    add_repeat_arguments,
    apply_threads,
    environment,
    fmt_bytes,
    measure_round_robin,
    pyplot,
    save_results,
)
from torch import nn

TAU_S, TAU_M = 3.0, 5.0
ALPHA, BETA = 1 - 1 / TAU_S, 1 - 1 / TAU_M


def sequence_net(kind: str, spike_grad_factory) -> nn.Module:
    from snntorch_tssl import FrameWise, SumPool2d, SynapticSequence

    def neuron():
        return SynapticSequence(tau_s=TAU_S, tau_m=TAU_M, spike_grad=spike_grad_factory())

    if kind == "mlp":
        return nn.Sequential(
            nn.Linear(784, 400, bias=False), neuron(), nn.Linear(400, 400, bias=False), neuron(),
            nn.Linear(400, 10, bias=False), neuron(),
        )  # fmt: skip
    return nn.Sequential(
        FrameWise(nn.Conv2d(1, 15, 5, bias=False)), neuron(), FrameWise(SumPool2d(2)),
        FrameWise(nn.Conv2d(15, 40, 5, bias=False)), neuron(), FrameWise(SumPool2d(2)),
        FrameWise(nn.Flatten()), nn.Linear(40 * 4 * 4, 300, bias=False), neuron(),
        nn.Linear(300, 10, bias=False), neuron(),
    )  # fmt: skip


class StockNet(nn.Module):
    """The same network from stock snn.Synaptic neurons, stepped in Python."""

    def __init__(self, kind: str) -> None:
        import snntorch as snn
        from snntorch import surrogate

        from snntorch_tssl import SumPool2d

        super().__init__()

        def neuron():
            return snn.Synaptic(
                alpha=ALPHA, beta=BETA, reset_mechanism="zero", reset_delay=False, spike_grad=surrogate.atan()
            )

        if kind == "mlp":
            self.layers = nn.ModuleList([nn.Linear(784, 400, bias=False), nn.Linear(400, 400, bias=False),
                                         nn.Linear(400, 10, bias=False)])  # fmt: skip
            self.between = [nn.Identity(), nn.Identity(), nn.Identity()]
        else:
            self.layers = nn.ModuleList(
                [
                    nn.Conv2d(1, 15, 5, bias=False),
                    nn.Conv2d(15, 40, 5, bias=False),
                    nn.Linear(40 * 4 * 4, 300, bias=False),
                    nn.Linear(300, 10, bias=False),
                ]
            )
            self.between = [nn.Identity(), SumPool2d(2), nn.Sequential(SumPool2d(2), nn.Flatten()), nn.Identity()]
        self.neurons = nn.ModuleList([neuron() for _ in self.layers])

    def forward(self, x):
        states = [neuron.reset_mem() for neuron in self.neurons]
        out = []
        for t in range(x.shape[0]):
            h = x[t]
            for i, (layer, neuron) in enumerate(zip(self.layers, self.neurons, strict=True)):
                h, syn, mem = neuron((1 - ALPHA) * layer(self.between[i](h)), *states[i])
                states[i] = (syn, mem)
            out.append(h)
        return torch.stack(out)


def main() -> None:
    from snntorch import surrogate

    from snntorch_tssl import tssl

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, nargs="+", default=[5, 30])
    parser.add_argument("--nets", nargs="+", default=["mlp", "cnn"])
    parser.add_argument("--batch", type=int, default=64)
    add_repeat_arguments(parser, repeats=5, warmup=1)
    args = parser.parse_args()
    apply_threads(args)
    device = torch.device(args.device)
    results = {"setup": vars(args) | {"out": str(args.out)}, "environment": environment(device), "runs": []}
    variants = {
        "SynapticSequence + tssl": lambda kind: sequence_net(kind, tssl),
        "SynapticSequence + atan": lambda kind: sequence_net(kind, surrogate.atan),
        "snn.Synaptic + atan (stepped)": StockNet,
    }
    for kind in args.nets:
        for steps in args.steps:
            gen = torch.Generator().manual_seed(steps)
            shape = (steps, args.batch, 784) if kind == "mlp" else (steps, args.batch, 1, 28, 28)
            x = (torch.rand(shape, generator=gen) * 4.0).to(device)
            labels = torch.randint(0, 10, (args.batch,), generator=gen).to(device)
            target = torch.nn.functional.one_hot(labels, 10).float() * 0.8
            steps_by_variant = {}
            for name, build in variants.items():
                torch.manual_seed(0)
                net = build(kind).to(device)
                optimizer = torch.optim.AdamW(net.parameters(), lr=5e-4)

                def step(net=net, optimizer=optimizer, x=x, target=target):
                    optimizer.zero_grad(set_to_none=True)
                    out = net(x)
                    loss = ((out.mean(0) - target) ** 2).sum()

                    def backward():
                        loss.backward()
                        optimizer.step()

                    return backward

                steps_by_variant[name] = step
            for name, record in measure_round_robin(steps_by_variant, device, args.repeats, args.warmup).items():
                record.update(net=kind, steps=steps, variant=name)
                results["runs"].append(record)
                print(
                    f"{kind} T={steps:3d} {name:32s} fwd {record['forward_s']:.4f}s bwd+step "
                    f"{record['backward_s']:.4f}s total {record['total_s']:.4f}s "
                    f"saved {fmt_bytes(record['saved_bytes'])}",
                    flush=True,
                )
    ratios = {}
    for run in results["runs"]:
        if run["variant"] != "SynapticSequence + tssl":
            continue
        for other in results["runs"]:
            if (other["net"], other["steps"]) == (run["net"], run["steps"]) and other is not run:
                key = f"{run['net']} T={run['steps']}: SynapticSequence + tssl / {other['variant']}"
                ratios[key] = run["total_s"] / other["total_s"]
                print(f"{key}: {ratios[key]:.3f}x")
    results["ratios"] = ratios
    save_results(results, args.out / f"training_{device.type}", plot)


def plot(results: dict, path: Path) -> None:
    plt = pyplot()
    groups = list(dict.fromkeys((r["net"], r["steps"]) for r in results["runs"]))
    names = list(dict.fromkeys(r["variant"] for r in results["runs"]))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = [
            next((r["total_s"] for r in results["runs"] if (r["net"], r["steps"]) == g and r["variant"] == name), 0)
            for g in groups
        ]
        ax.bar([j + i * width for j in range(len(groups))], values, width, label=name)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(groups))], [f"{n} T={t}" for n, t in groups])
    ax.set_yscale("log")
    ax.set_ylabel("training step (s, median)")
    ax.set_title(f"batch {results['setup']['batch']}, {results['environment']['device']}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
