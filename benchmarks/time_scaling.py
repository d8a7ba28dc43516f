"""Forward and backward time of one neuron layer versus the number of time steps T.

The TSSL-BP backward is one O(T) pass, so its time must grow linearly in T
(the check: T = 1000 costs at most 12x T = 100). Also reports forward+backward
for T = 5, 50, 500 and their ratios. Repeats run round-robin over T. The neuron alone is timed (input current
given, no weights): SynapticSequence + tssl, stock snn.Leaky + atan stepped
in Python, and SpikingJelly's multi-step LIF when it is installed.

Usage::

    PYTHONPATH=. python benchmarks/time_scaling.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from _harness import add_repeat_arguments, apply_threads, environment, measure_round_robin, pyplot, save_results

from snntorch_tssl import SynapticSequence, tssl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, nargs="+", default=[5, 10, 20, 50, 100, 200, 500, 1000])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--n", type=int, default=1024)
    add_repeat_arguments(parser, repeats=5, warmup=1)
    args = parser.parse_args()
    apply_threads(args)
    device = torch.device(args.device)
    neurons = {"SynapticSequence + tssl": SynapticSequence(beta=0.8, tau_s=3.0, spike_grad=tssl()).to(device)}
    import snntorch as snn
    from snntorch import surrogate

    leaky = snn.Leaky(beta=0.8, reset_mechanism="zero", spike_grad=surrogate.atan()).to(device)

    def leaky_run(x):
        mem = leaky.reset_mem()
        spikes = []
        for current in x.unbind(0):
            spk, mem = leaky(current, mem)
            spikes.append(spk)
        return torch.stack(spikes)

    neurons["snn.Leaky + atan (stepped)"] = leaky_run
    try:
        from spikingjelly.activation_based import functional, neuron

        jelly = neuron.LIFNode(tau=5.0, decay_input=False, v_reset=0.0, step_mode="m").to(device)

        def jelly_run(x):
            functional.reset_net(jelly)
            return jelly(x)

        neurons["SpikingJelly LIFNode multi-step"] = jelly_run
    except ImportError:
        print("note: spikingjelly is not installed; only SynapticSequence is timed")
    results = {"setup": vars(args) | {"out": str(args.out)}, "environment": environment(device), "runs": []}
    inputs = {}
    for steps in args.steps:
        gen = torch.Generator().manual_seed(steps)
        inputs[steps] = (torch.rand(steps, args.batch, args.n, generator=gen) * 1.5).to(device)
    steps_by_key = {}
    for steps, current in inputs.items():
        for name, run in neurons.items():

            def step(run=run, current=current):
                x = current.detach().requires_grad_()
                out = run(x)
                return lambda: out.sum().backward()

            steps_by_key[steps, name] = step
    # Round-robin over (T, variant): a drift in the load of a shared machine affects all T alike.
    for (steps, name), record in measure_round_robin(steps_by_key, device, args.repeats, args.warmup).items():
        record.update(steps=steps, variant=name)
        results["runs"].append(record)
        print(
            f"T={steps:5d} {name:32s} fwd {record['forward_s']:.4f}s bwd {record['backward_s']:.4f}s "
            f"total {record['total_s']:.4f}s (medians of {len(record['total_samples'])})",
            flush=True,
        )
    ours = {r["steps"]: r for r in results["runs"] if r["variant"] == "SynapticSequence + tssl"}
    checks = {}
    if 100 in ours and 1000 in ours:
        ratio = ours[1000]["backward_s"] / ours[100]["backward_s"]
        checks["backward_T1000_over_T100"] = ratio
        checks["backward_T1000_over_T100_min"] = ours[1000]["backward_min_s"] / ours[100]["backward_min_s"]
        print(
            f"backward T=1000 / T=100: {ratio:.2f}x median, {checks['backward_T1000_over_T100_min']:.2f}x min "
            "(linear if <= 12)"
        )
    for low, high in ((5, 50), (50, 500)):
        if low in ours and high in ours:
            ratio = ours[high]["total_s"] / ours[low]["total_s"]
            checks[f"forward_backward_T{high}_over_T{low}"] = ratio
            print(f"forward+backward T={high} / T={low}: {ratio:.2f}x")
    results["ratios"] = checks
    save_results(results, args.out / f"time_scaling_{device.type}", plot)


def plot(results: dict, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name in dict.fromkeys(r["variant"] for r in results["runs"]):
        runs = [r for r in results["runs"] if r["variant"] == name]
        ax.plot([r["steps"] for r in runs], [r["backward_s"] for r in runs], marker="o", label=f"{name}: backward")
        ax.plot(
            [r["steps"] for r in runs], [r["forward_s"] for r in runs], marker="x", ls="--", label=f"{name}: forward"
        )
    steps = [r["steps"] for r in results["runs"]]
    first = next(r for r in results["runs"] if r["variant"] == "SynapticSequence + tssl" and r["steps"] == max(steps))
    ax.plot(
        sorted(set(steps)),
        [first["backward_s"] * s / max(steps) for s in sorted(set(steps))],
        color="gray",
        lw=0.8,
        label="linear in T",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("time steps T")
    ax.set_ylabel("seconds (median)")
    setup = results["setup"]
    ax.set_title(f"batch {setup['batch']}, n = {setup['n']}, {results['environment']['device']}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
