"""One nn.Linear(n, n) + LIF layer, T = 500, batch 16 (the Open Neuromorphic SNN library benchmark).

Compares, in one process: nn.Linear alone (the cost every variant shares, a
lower bound), SynapticSequence + tssl, SynapticSequence + atan,
stock snn.Leaky + atan stepped in Python (Linear per step, as in the Open
Neuromorphic benchmark and snnTorch's tutorials, and with the Linear applied
to the whole sequence at once), stock snn.Leaky + tssl() (skipped with a note
if tssl() does not run inside stock neurons in this version), and
SpikingJelly's multi-step LIF (its CPU implementation on CPU, its automatically
selected CUDA/Triton implementation on CUDA).

Usage::

    PYTHONPATH=. python benchmarks/layer_benchmark.py --out benchmarks/results --sizes 512 1024
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

BETA = 0.8  # tau_m = 5 for every variant
THRESHOLD = 1.0


def make_input(steps: int, batch: int, n: int, device: torch.device) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return (torch.rand(steps, batch, n, generator=gen) < 0.3).float().to(device) * 2.0


def sequence_variant(n: int, spike_grad, device, backend: str = "auto"):
    from snntorch_tssl import SynapticSequence

    linear = nn.Linear(n, n).to(device)
    neuron = SynapticSequence(beta=BETA, tau_s=3.0, threshold=THRESHOLD, spike_grad=spike_grad, backend=backend)
    neuron = neuron.to(device)

    def run(x):
        return neuron(linear(x))

    return run, [linear]


def stock_leaky_variant(n: int, spike_grad, device, linear_per_step: bool):
    import snntorch as snn

    linear = nn.Linear(n, n).to(device)
    lif = snn.Leaky(beta=BETA, threshold=THRESHOLD, reset_mechanism="zero", spike_grad=spike_grad).to(device)

    def run(x):
        mem = lif.reset_mem()
        # unbind, not current[t]: indexing a tensor that needs grad costs a full-size zero tensor per step
        currents = [linear(frame) for frame in x.unbind(0)] if linear_per_step else linear(x).unbind(0)
        spikes = []
        for current in currents:
            spk, mem = lif(current, mem)
            spikes.append(spk)
        return torch.stack(spikes)

    return run, [linear]


def spikingjelly_variant(n: int, device):
    from spikingjelly.activation_based import functional, layer, neuron

    linear = layer.Linear(n, n, step_mode="m").to(device)
    lif = neuron.LIFNode(tau=1.0 / (1.0 - BETA), decay_input=False, v_threshold=THRESHOLD, v_reset=0.0, step_mode="m")
    lif = lif.to(device)

    def run(x):
        functional.reset_net(lif)
        return lif(linear(x))

    return run, [linear]


def linear_alone(n: int, device):
    linear = nn.Linear(n, n).to(device)
    return linear, [linear]


LOWER_BOUND = "nn.Linear alone (no neuron)"


def variants(n: int, device: torch.device) -> dict:
    from snntorch import surrogate

    from snntorch_tssl import tssl

    found = {
        LOWER_BOUND: lambda: linear_alone(n, device),
        "SynapticSequence + tssl": lambda: sequence_variant(n, tssl(), device),
        "SynapticSequence + atan": lambda: sequence_variant(n, surrogate.atan(), device),
        "snn.Leaky + atan (Linear per step)": lambda: stock_leaky_variant(n, surrogate.atan(), device, True),
        "snn.Leaky + atan (Linear on the sequence)": lambda: stock_leaky_variant(n, surrogate.atan(), device, False),
        "snn.Leaky + tssl (Linear per step)": lambda: stock_leaky_variant(n, tssl(), device, True),
    }
    try:
        import spikingjelly  # noqa: F401

        found["SpikingJelly LIFNode multi-step"] = lambda: spikingjelly_variant(n, device)
    except ImportError:
        print("note: spikingjelly is not installed (pip install '.[bench]'); its variant is skipped")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--batch", type=int, default=16)
    add_repeat_arguments(parser, repeats=3, warmup=1)
    parser.add_argument("--skip", nargs="*", default=[], help="substrings of variant names to leave out")
    args = parser.parse_args()
    apply_threads(args)
    device = torch.device(args.device)
    sizes = args.sizes or ([512, 1024, 4096, 16384] if device.type == "cuda" else [512, 1024, 4096])
    results = {"setup": vars(args) | {"sizes": sizes, "out": str(args.out)}, "environment": environment(device)}
    results["runs"] = []
    for n in sizes:
        x = make_input(args.steps, args.batch, n, device)
        built, steps = {}, {}
        for name, build in variants(n, device).items():
            if any(part in name for part in args.skip):
                continue
            torch.manual_seed(0)
            built[name] = run, params = build()

            def step(run=run, params=params, x=x):
                for p in params:
                    for q in p.parameters():
                        q.grad = None
                out = run(x)
                return lambda: out.sum().backward()

            steps[name] = step
        # e.g. tssl() inside stock neurons, not available in every version
        skip = (RuntimeError, TypeError, ValueError, NotImplementedError)
        for name, record in measure_round_robin(steps, device, args.repeats, args.warmup, skip).items():
            run = built[name][0]
            with torch.no_grad():
                record["firing_rate"] = None if name == LOWER_BOUND else run(x).float().mean().item()
            record.update(n=n, variant=name)
            results["runs"].append(record)
            print(
                f"n={n:6d} {name:45s} fwd {record['forward_s']:.3f}s bwd {record['backward_s']:.3f}s "
                f"total {record['total_s']:.3f}s saved {fmt_bytes(record['saved_bytes'])} "
                f"peak {fmt_bytes(record['peak_bytes'])} rate {record['firing_rate']}",
                flush=True,
            )
        del built, steps
    add_ratios(results)
    save_results(results, args.out / f"layer_{device.type}", plot)


def add_ratios(results: dict) -> None:
    ours = "SynapticSequence + tssl"
    by_n: dict[int, dict] = {}
    for run in results["runs"]:
        by_n.setdefault(run["n"], {})[run["variant"]] = run
    ratios = {}
    for n, runs in by_n.items():
        if ours not in runs:
            continue
        ratios[n] = {
            name: {
                "total": runs[ours]["total_s"] / run["total_s"],
                "saved_memory": runs[ours]["saved_bytes"] / run["saved_bytes"] if run["saved_bytes"] else None,
            }
            for name, run in runs.items()
            if name != ours
        }
    results["ratios_of_synapticsequence_tssl"] = ratios
    for n, table in ratios.items():
        for name, ratio in table.items():
            print(
                f"n={n}: SynapticSequence + tssl / {name}: time {ratio['total']:.3f}x, saved memory "
                f"{ratio['saved_memory'] if ratio['saved_memory'] is None else round(ratio['saved_memory'], 3)}x"
            )


def plot(results: dict, path: Path) -> None:
    plt = pyplot()
    names = list(dict.fromkeys(run["variant"] for run in results["runs"]))
    sizes = sorted({run["n"] for run in results["runs"]})
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for name in names:
        runs = sorted((r for r in results["runs"] if r["variant"] == name), key=lambda r: r["n"])
        axes[0].plot([r["n"] for r in runs], [r["total_s"] for r in runs], marker="o", label=name)
        axes[1].plot([r["n"] for r in runs], [r["saved_bytes"] / 2**20 for r in runs], marker="o", label=name)
    for ax, label in zip(axes, ["forward + backward (s, median)", "saved for backward (MiB)"], strict=True):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.set_xlabel("n (Linear(n, n) + LIF)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    setup = results["setup"]
    fig.suptitle(f"T={setup['steps']}, batch {setup['batch']}, {results['environment']['device']}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
