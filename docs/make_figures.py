"""Draw the figures of "How TSSL-BP works" with the package itself.

Run from the repository root (writes ``docs/figures/*.png``)::

    python docs/make_figures.py

One neuron of the paper (normalised synapse, LIF with reset to zero,
tau_s = 3, tau_m = 5, threshold 1) is driven by a fixed input; the loss is
the Van Rossum distance of its output PSC to a target spike train. The
figures show its membrane and spikes, the gradient dL/dI[t] its input
current receives under each rule, and the curves each per-step rule puts in
place of the spike derivative.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from snntorch import surrogate

from snntorch_tssl import SynapticSequence, _math, stbp, tssl

FIGURES = Path(__file__).resolve().parent / "figures"
STEPS, TAU_S, TAU_M = 30, 3.0, 5.0
TARGET_TIMES = (4, 9, 14, 19, 24)
COLORS = {"tssl()": "C3", "tssl(warmup=False)": "C1", "stbp()": "C4", "atan()": "C0", "fast_sigmoid()": "C2"}


def drive() -> torch.Tensor:
    """A fixed input: the neuron fires too often early on, then stays silent where the target wants spikes."""
    t = torch.arange(STEPS, dtype=torch.float64)
    x = 1.6 * torch.exp(-(((t - 8.0) / 3.5) ** 2)) + 0.45 * torch.exp(-(((t - 20.0) / 3.0) ** 2))
    return x[:, None]  # [T, 1]: one neuron, batch of one


def target() -> torch.Tensor:
    spikes = torch.zeros(STEPS, 1, dtype=torch.float64)
    spikes[list(TARGET_TIMES)] = 1.0
    return spikes


def run(rule) -> dict[str, torch.Tensor]:
    """Forward the neuron with ``rule`` as its spike_grad and backpropagate the Van Rossum loss."""
    neuron = SynapticSequence(tau_s=TAU_S, tau_m=TAU_M, spike_grad=rule, output=True).double()
    spk, syn, mem = neuron(drive().requires_grad_(True))
    syn.retain_grad()
    psc = _math.psc_filter(spk, TAU_S)
    loss = 0.5 * ((psc - _math.psc_filter(target(), TAU_S)) ** 2).sum()
    loss.backward()
    u = syn.detach().clone()  # membrane before reset: u[t] = beta * mem[t-1] + I[t]
    u[1:] += neuron.beta.double() * mem.detach()[:-1]
    return {"current": syn.detach(), "mem": u, "spk": spk.detach(), "psc": psc.detach(), "grad": syn.grad}


def neuron_figure(trace: dict[str, torch.Tensor]) -> None:
    t = torch.arange(STEPS)
    fig, axes = plt.subplots(3, 1, figsize=(8, 6), sharex=True, height_ratios=[2, 2, 1])
    axes[0].plot(t, trace["current"][:, 0], "o-", color="0.4", ms=3, label="input current $I[t]$")
    axes[0].set_ylabel("current")
    axes[0].legend(loc="upper right", frameon=False)
    axes[1].plot(t, trace["mem"][:, 0], "o-", ms=3, color="C0", label="membrane $u[t]$ (before reset)")
    axes[1].axhline(1.0, color="k", ls="--", lw=1, label="threshold $V$")
    axes[1].plot(t, trace["psc"][:, 0], color="C3", lw=1.5, label="output PSC $a[t]$")
    axes[1].axhline(0.25 / TAU_S, color="C3", ls=":", lw=1, label=r"warm-up bound $1/(4\tau_s)$")
    axes[1].set_ylabel("membrane / PSC")
    axes[1].legend(loc="upper right", frameon=False, fontsize=8)
    out = t[trace["spk"][:, 0] > 0]
    axes[2].vlines(out, 0.55, 0.95, color="C0", lw=2, label="output spikes")
    axes[2].vlines(torch.tensor(TARGET_TIMES), 0.05, 0.45, color="k", lw=2, label="target spikes")
    axes[2].set_yticks([0.25, 0.75], ["target", "output"])
    axes[2].set_ylim(0, 1)
    axes[2].set_xlabel("time step $t$")
    fig.suptitle(r"One neuron of the paper ($\tau_s = 3$, $\tau_m = 5$, reset to zero)")
    fig.tight_layout()
    fig.savefig(FIGURES / "neuron.png", dpi=110)
    plt.close(fig)


def gradient_figure(traces: dict[str, dict[str, torch.Tensor]]) -> None:
    t = torch.arange(STEPS)
    spikes = t[traces["tssl()"]["spk"][:, 0] > 0]
    fig, axes = plt.subplots(len(traces), 1, figsize=(8, 1.7 * len(traces) + 0.6), sharex=True)
    for ax, (name, trace) in zip(axes, traces.items(), strict=True):
        grad = trace["grad"][:, 0]
        ax.axhline(0, color="0.7", lw=0.8)
        for s in spikes:
            ax.axvspan(s - 0.4, s + 0.4, color="C0", alpha=0.12, lw=0)
        ax.stem(t, grad, linefmt=COLORS[name], markerfmt="o", basefmt=" ")
        ax.set_ylabel(r"$\partial L / \partial I[t]$", fontsize=9)
        ax.set_title(f"spike_grad={name}", fontsize=10, loc="left")
    axes[-1].set_xlabel("time step $t$ (shaded: steps where the neuron spikes)")
    fig.suptitle("The gradient the input current receives, same forward pass, same loss")
    fig.tight_layout()
    fig.savefig(FIGURES / "gradients.png", dpi=110)
    plt.close(fig)


def surrogate_figure() -> None:
    x = torch.linspace(-1.5, 1.5, 601, dtype=torch.float64)
    curves = {}
    per_step = {
        "stbp()": stbp("rectangular", a=1.0),
        "atan()": surrogate.atan(),
        "fast_sigmoid()": surrogate.fast_sigmoid(),
    }
    for name, rule in per_step.items():
        v = x.clone().requires_grad_(True)
        rule(v).sum().backward()
        curves[name] = v.grad
    curves["tssl() warm-up only"] = _math.warmup_surrogate(x, 0.2)
    fig, ax = plt.subplots(figsize=(8, 3.4))
    for name, curve in curves.items():
        ax.plot(x, curve, lw=2, label=name, color=COLORS.get(name, "C3"))
    ax.set_xlabel("$u - V$")
    ax.set_ylabel(r"replaces $\partial s / \partial u$")
    ax.set_title("Per-step surrogates depend on the membrane only; TSSL-BP uses one only in warm-up", fontsize=10)
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(FIGURES / "surrogates.png", dpi=110)
    plt.close(fig)


def main() -> None:
    FIGURES.mkdir(exist_ok=True)
    rules = {
        "tssl()": tssl(tau_s=TAU_S),
        "tssl(warmup=False)": tssl(tau_s=TAU_S, warmup=False),
        "stbp()": stbp("rectangular", a=1.0),
        "atan()": surrogate.atan(),
        "fast_sigmoid()": surrogate.fast_sigmoid(),
    }
    traces = {name: run(rule) for name, rule in rules.items()}
    neuron_figure(traces["tssl()"])
    gradient_figure(traces)
    surrogate_figure()
    for path in sorted(FIGURES.glob("*.png")):
        print(path.relative_to(FIGURES.parent.parent))


if __name__ == "__main__":
    main()
