"""The one-argument switch on snnTorch's tutorial networks: ``spike_grad=tssl()`` against ``atan()``.

``--network tutorial5`` is snnTorch tutorial 5's network as written
(784-1000-10, ``nn.Linear`` with bias, a stock neuron after each, the static
image fed at every step, Adam 5e-4, batch 128, beta 0.95); ``--network
tutorial6`` is tutorial 6's convolutional network as written (12C5-MP2-64C5-
MP2-10, neurons with ``init_hidden=True`` in an ``nn.Sequential``, the image
at every step, Adam 1e-2, batch 128, beta 0.5); ``--network tutorial7`` is
tutorial 7's N-MNIST network as written (12C5-MP2-32C5-MP2-10, beta 0.5,
Adam 2e-2, batch 128; tonic's ``Denoise(filter_time=10000)`` and
``ToFrame(time_window=1000)``, one frame of event counts per millisecond,
every frame of the recording fed, the training recordings rotated at random
by up to 10 degrees; ``--data-root`` the N-MNIST folder,
``ROOT/{Train,Test}/<digit>/*.bin``, and ``--steps 0`` for "every frame").
Each is trained for
``--batches`` batches with only ``spike_grad`` changed, over the grid

- loss: cross-entropy on the output membrane summed over steps (the
  tutorial's), ``snntorch.functional.ce_rate_loss()``,
  ``snntorch.functional.mse_count_loss(0.8, 0.2)`` and this package's
  ``van_rossum_loss``;
- neuron: ``snn.Leaky(beta)`` and ``snn.Synaptic(alpha=0.9, beta)`` with
  snnTorch's defaults (reset by subtraction);
- time steps: 5, 10, 25;
- beta (``--betas``, default the tutorial's) and reset mechanism
  (``--resets``: "subtract", snnTorch's default, or "zero");
- rule: snnTorch's ``atan()``, ``fast_sigmoid(slope=25)`` (tutorial 6's) and
  ``tssl()`` with ablations (``--rules``; the ablation and advice variants
  keep the warm-up width 0.2 they were measured with, see ``_tssl_variant``);
  a rule named ``...-clip-grad-norm-1`` trains with the gradient norm clipped
  to 1 before each Adam step.

Runs of an earlier version of the package may sit in the JSON under their own
rule name (e.g. "tssl-0.1.0"): they are tabulated and plotted, not rerun.

Each run records the batch (from 0) at which each of the rule's training
warnings first fired ("softmax", "silence", "collapse"); per batch the
training loss, the output layer's firing rate and the parameters' gradient
norm (before any clipping); and the test accuracy on ``--test-size`` test
digits read out by spike count (as the tutorial does; ties go to the lowest
index, as in ``SF.accuracy_rate``) and by the summed output membrane, the
fraction of test digits whose top spike count is tied, the output and hidden
firing rates, and the seconds per batch. Results are appended to
``OUT/switch_grid.json`` as they finish (a rerun skips what is there; one
folder holds one network); ``--plot-only`` redraws ``OUT/switch_grid.png``,
``OUT/switch_grid_losses.png`` (the per-batch traces) and the markdown table.

    PYTHONPATH=. python benchmarks/switch_grid.py --out benchmarks/results/switch --data-root data
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run the checkout, not an installed copy

import snntorch as snn  # noqa: E402
import snntorch.functional as SF  # noqa: E402
from snntorch import surrogate, utils  # noqa: E402

import snntorch_tssl as st  # noqa: E402
import snntorch_tssl.data  # noqa: E402, F401

LOSSES = ("ce-membrane", "ce-rate", "mse-count", "van-rossum")
NEURONS = ("leaky", "synaptic")
ALPHA = 0.9


def _tssl(**options) -> Callable[[], object]:
    return lambda: st.tssl(**options)


def _tssl_variant(**options) -> Callable[[], object]:
    """An ablation or advice variant of the rule, as it was measured: with the paper's warm-up width 0.2,
    the default of every neuron before 0.5 became the default of neurons without a synapse."""
    return _tssl(**({"warmup_width": 0.2} | options))


def _fast_sigmoid() -> object:
    """Tutorial 6's surrogate."""
    return surrogate.fast_sigmoid(slope=25)


#: rule name -> the spike_grad factory of every layer (one rule object per neuron)
RULES: dict[str, Callable[[], object]] = {
    "atan": surrogate.atan,
    "fast_sigmoid": _fast_sigmoid,
    "tssl": _tssl(),
    "tssl-warmup-width-0.2": _tssl(warmup_width=0.2),
    "tssl-no-reset-term": _tssl_variant(reset_term=False),
    "tssl-no-warmup": _tssl_variant(warmup=False),
    "tssl-warmup-width-1": _tssl(warmup_width=1.0),
    "tssl-max-inv-du-1": _tssl_variant(max_inv_du=1.0),
    "tssl-max-inv-du-2": _tssl_variant(max_inv_du=2.0),
    "tssl-tau-s-1": _tssl_variant(tau_s=1.0),
    "tssl-tau-s-3": _tssl_variant(tau_s=3.0),
    "tssl-tau-s-10": _tssl_variant(tau_s=10.0),
    "tssl-max-inv-du-1-warmup-width-1": _tssl(max_inv_du=1.0, warmup_width=1.0),
    "tssl-hidden-atan-output": _tssl_variant(),
    "tssl-warmup-width-0.5-hidden-atan-output": _tssl(warmup_width=0.5),
    "tssl-warmup-width-1-hidden-atan-output": _tssl(warmup_width=1.0),
    "tssl-warmup-keeps-timing": _tssl_variant(warmup_keeps_timing=True),
    "tssl-clip-grad-norm-1": _tssl_variant(),
    "tssl-warmup-width-1-clip-grad-norm-1": _tssl(warmup_width=1.0),
    "fast_sigmoid-clip-grad-norm-1": _fast_sigmoid,
}
#: rules whose output layer takes another spike_grad than the hidden layers
OUTPUT_RULES: dict[str, Callable[[], object]] = {
    "tssl-hidden-atan-output": surrogate.atan,
    "tssl-warmup-width-0.5-hidden-atan-output": surrogate.atan,
    "tssl-warmup-width-1-hidden-atan-output": surrogate.atan,
}
#: rules trained with the gradient norm clipped (``torch.nn.utils.clip_grad_norm_``) before each Adam step
CLIPPED_RULES: dict[str, float] = {
    "tssl-clip-grad-norm-1": 1.0,
    "tssl-warmup-width-1-clip-grad-norm-1": 1.0,
    "fast_sigmoid-clip-grad-norm-1": 1.0,
}


def rule_colours(rules: list[str]) -> dict[str, str]:
    """One matplotlib colour per rule, the same in every panel of a figure."""
    return {rule: f"C{index}" for index, rule in enumerate(rules)}


def spike_grads(rule: str) -> tuple[Callable[[], object], Callable[[], object]]:
    """The spike_grad factories of ``rule``'s hidden layers and of its output layer."""
    return RULES[rule], OUTPUT_RULES.get(rule, RULES[rule])


def neuron_of(kind: str, spike_grad, beta: float, reset: str, **options) -> nn.Module:
    if kind == "leaky":
        return snn.Leaky(beta=beta, spike_grad=spike_grad, reset_mechanism=reset, **options)
    return snn.Synaptic(alpha=ALPHA, beta=beta, spike_grad=spike_grad, reset_mechanism=reset, **options)


def _initial_state(neuron: nn.Module) -> list[torch.Tensor]:
    if isinstance(neuron, snn.Synaptic):
        return list(neuron.reset_mem())
    return [neuron.reset_mem()]


class Tutorial5Net(nn.Module):
    """snnTorch tutorial 5: 784-1000-10, the image fed at every step; returns output spikes and membranes
    and the hidden spikes."""

    def __init__(self, kind: str, rule: str, steps: int, beta: float, reset: str = "subtract") -> None:
        super().__init__()
        hidden, output = spike_grads(rule)
        self.steps = steps
        self.fc1, self.lif1 = nn.Linear(784, 1000), neuron_of(kind, hidden(), beta, reset)
        self.fc2, self.lif2 = nn.Linear(1000, 10), neuron_of(kind, output(), beta, reset)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        states1 = _initial_state(self.lif1)
        states2 = _initial_state(self.lif2)
        spikes, mems, hidden = [], [], []
        current1 = self.fc1(x)
        for _ in range(self.steps):
            spk1, *states1 = self.lif1(current1, *states1)
            spk2, *states2 = self.lif2(self.fc2(spk1), *states2)
            spikes.append(spk2)
            mems.append(states2[-1])
            hidden.append(spk1)
        return torch.stack(spikes), torch.stack(mems), torch.stack(hidden)


class Tutorial6Net(nn.Module):
    """snnTorch tutorial 6: 12C5-MP2-64C5-MP2-10 with ``init_hidden=True`` neurons in an ``nn.Sequential``,
    the image fed at every step; returns output spikes and membranes and the last hidden layer's spikes."""

    def __init__(self, kind: str, rule: str, steps: int, beta: float, reset: str = "subtract") -> None:
        super().__init__()
        hidden, output = spike_grads(rule)
        self.steps = steps
        self.features = nn.Sequential(
            nn.Conv2d(1, 12, 5),
            nn.MaxPool2d(2),
            neuron_of(kind, hidden(), beta, reset, init_hidden=True),
            nn.Conv2d(12, 64, 5),
            nn.MaxPool2d(2),
            neuron_of(kind, hidden(), beta, reset, init_hidden=True),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, 10),
            neuron_of(kind, output(), beta, reset, init_hidden=True, output=True),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        images = x.reshape(-1, 1, 28, 28)
        for part in (self.features, self.classifier):
            utils.reset(part)  # looks at a module's direct children only
        spikes, mems, hidden = [], [], []
        for _ in range(self.steps):
            spk1 = self.features(images)
            spk2, *states = self.classifier(spk1)
            spikes.append(spk2)
            mems.append(states[-1])
            hidden.append(spk1)
        return torch.stack(spikes), torch.stack(mems), torch.stack(hidden)


class Tutorial7Net(nn.Module):
    """snnTorch tutorial 7: 12C5-MP2-32C5-MP2-10 on N-MNIST frames ``[T, B, 2, 34, 34]`` with ``init_hidden=True``
    neurons in one ``nn.Sequential``, every frame fed (``steps`` is unused); returns output spikes and membranes and
    the last hidden layer's spikes."""

    def __init__(self, kind: str, rule: str, steps: int, beta: float, reset: str = "subtract") -> None:
        super().__init__()
        hidden, output = spike_grads(rule)
        self.net = nn.Sequential(
            nn.Conv2d(2, 12, 5),
            nn.MaxPool2d(2),
            neuron_of(kind, hidden(), beta, reset, init_hidden=True),
            nn.Conv2d(12, 32, 5),
            nn.MaxPool2d(2),
            neuron_of(kind, hidden(), beta, reset, init_hidden=True),
            nn.Flatten(),
            nn.Linear(32 * 5 * 5, 10),
            neuron_of(kind, output(), beta, reset, init_hidden=True, output=True),
        )
        self.net[5].register_forward_hook(self._keep_hidden)
        self._hidden: torch.Tensor | None = None

    def _keep_hidden(self, module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        self._hidden = output

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        utils.reset(self.net)
        spikes, mems, hidden = [], [], []
        for frame in frames:
            spk, mem = self.net(frame)
            spikes.append(spk)
            mems.append(mem)
            hidden.append(self._hidden)
        return torch.stack(spikes), torch.stack(mems), torch.stack(hidden)


@dataclasses.dataclass(frozen=True)
class Network:
    """A tutorial network and what its tutorial trains it with."""

    module: type[nn.Module]
    beta: float
    learning_rate: float
    dataset: str = "mnist"


NETWORKS = {
    "tutorial5": Network(Tutorial5Net, beta=0.95, learning_rate=5e-4),
    "tutorial6": Network(Tutorial6Net, beta=0.5, learning_rate=1e-2),
    "tutorial7": Network(Tutorial7Net, beta=0.5, learning_rate=2e-2, dataset="nmnist"),
}
BATCH_SIZE = 128


def loss_of(name: str, steps: int) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    if name == "ce-membrane":
        cross_entropy = nn.CrossEntropyLoss()
        return lambda spk, mem, y: sum(cross_entropy(mem[t], y) for t in range(steps))
    if name == "ce-rate":
        ce_rate = SF.ce_rate_loss()
        return lambda spk, mem, y: ce_rate(spk, y)
    if name == "mse-count":
        mse_count = SF.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)
        return lambda spk, mem, y: mse_count(spk, y)
    van_rossum = st.functional.van_rossum_loss(tau=3.0)
    return lambda spk, mem, y: van_rossum(spk, y)


def load_mnist(root: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """MNIST as tutorial 5 feeds it (pixels in [0, 1], flattened), via torchvision; ``root="bundled"``
    takes the package's 10,000/1,000-digit subset instead."""

    def tensors(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        if root == "bundled":
            data = st.data.bundled_mnist(train)
            return data.images.reshape(len(data), -1).float() / 255.0, data.labels
        import torchvision

        data = torchvision.datasets.MNIST(root, train=train, download=True)
        return data.data.reshape(len(data), -1).float() / 255.0, data.targets

    return (*tensors(True), *tensors(False))


class Recordings:
    """N-MNIST recordings as tutorial 7 bins them (``uint8`` event counts ``[T_i, 2, 34, 34]``, 1 ms frames);
    indexing a batch pads them with empty frames to the longest, ``[T, B, 2, 34, 34]`` (tonic's
    ``PadTensors(batch_first=False)``), rotated at random by up to 10 degrees if ``rotate``."""

    def __init__(self, frames: list[torch.Tensor], rotate: bool) -> None:
        self.frames, self.rotate = frames, rotate

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: torch.Tensor) -> torch.Tensor:
        import torchvision

        chosen = [self.frames[i].float() for i in index.tolist()]
        if self.rotate:
            rotation = torchvision.transforms.RandomRotation([-10, 10])
            chosen = [rotation(frames) for frames in chosen]
        return nn.utils.rnn.pad_sequence(chosen)


def load_nmnist(root: str) -> tuple[Recordings, torch.Tensor, Recordings, torch.Tensor]:
    """The recordings of ``ROOT/{Train,Test}/<digit>/*.bin`` through tutorial 7's transforms."""
    import tonic
    import tonic.transforms as transforms

    binning = transforms.Compose(
        [
            transforms.Denoise(filter_time=10000),
            transforms.ToFrame(sensor_size=tonic.datasets.NMNIST.sensor_size, time_window=1000),
        ]
    )

    def split(name: str) -> tuple[Recordings, torch.Tensor]:
        folder = st.data.nmnist.NMNISTFolder(Path(root) / name, binning)
        frames, labels = zip(*(folder[i] for i in range(len(folder))), strict=True)
        counts = [torch.as_tensor(f).clamp_(max=255).to(torch.uint8) for f in frames]
        return Recordings(counts, rotate=name == "Train"), torch.stack(labels)

    return (*split("Train"), *split("Test"))


#: what identifies each of the rule's training warnings (``TrainingChecks``) in its message
WARNINGS = {
    "softmax": "sums to zero over its",
    "silence": "has been nearly silent",
    "collapse": "below 1/100 of its largest value in the passes before",
}


def warning_kinds(caught: list[warnings.WarningMessage]) -> set[str]:
    """The rule's training warnings among ``caught``: "softmax", "silence", "collapse" (see :data:`WARNINGS`)."""
    return {kind for kind, text in WARNINGS.items() for w in caught if text in str(w.message)}


def run(
    data: tuple,
    network: str,
    loss: str,
    kind: str,
    steps: int,
    rule: str,
    seed: int,
    batches: int,
    test_size: int,
    beta: float | None = None,
    reset: str = "subtract",
) -> dict[str, float]:
    """Train one cell (``beta`` None: the tutorial's) and measure it on the test digits."""
    train_x, train_y, test_x, test_y = data
    torch.manual_seed(seed)
    spec = NETWORKS[network]
    net = spec.module(kind, rule, steps, spec.beta if beta is None else beta, reset)
    optimizer = torch.optim.Adam(net.parameters(), lr=spec.learning_rate, betas=(0.9, 0.999))
    loss_fn = loss_of(loss, steps)
    order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(seed))
    while len(order) < batches * BATCH_SIZE:  # a small training set is passed over again, reshuffled
        order = torch.cat([order, torch.randperm(len(train_x))])
    start = time.perf_counter()
    warned: dict[str, int] = {}
    losses, output_rates, grad_norms = [], [], []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for batch in range(batches):
            index = order[batch * BATCH_SIZE : (batch + 1) * BATCH_SIZE]
            spk, mem, _ = net(train_x[index])
            value = loss_fn(spk, mem, train_y[index])
            optimizer.zero_grad()
            value.backward()
            grad_norms.append(nn.utils.get_total_norm([p.grad for p in net.parameters() if p.grad is not None]))
            if rule in CLIPPED_RULES:  # clip_grad_norm_ without computing the norm again
                nn.utils.clip_grads_with_norm_(net.parameters(), CLIPPED_RULES[rule], grad_norms[-1])
            optimizer.step()
            losses.append(value.detach().reshape(()))  # snnTorch's losses may be shaped [1]
            output_rates.append(spk.detach().mean())
            for kind in warning_kinds(caught):
                warned.setdefault(kind, batch)
            caught.clear()
    seconds = (time.perf_counter() - start) / batches
    test_size = min(test_size, len(test_x))
    with torch.no_grad():
        spk, mem, hidden = net(test_x[torch.arange(test_size)])
    labels = test_y[:test_size]
    counts = spk.sum(0)
    top = counts.max(1, keepdim=True).values
    return {
        "accuracy": (counts.argmax(1) == labels).float().mean().item(),
        "accuracy_membrane": (mem.sum(0).argmax(1) == labels).float().mean().item(),
        "ties": ((counts == top).sum(1) > 1).float().mean().item(),
        "output_rate": spk.mean().item(),
        "hidden_rate": hidden.mean().item(),
        "final_loss": float(value.detach()),
        "losses": torch.stack(losses).tolist(),
        "output_rates": torch.stack(output_rates).tolist(),
        "grad_norms": torch.stack(grad_norms).tolist(),
        "seconds_per_batch": seconds,
        "warnings": warned,
    }


def rule_order(names: set[str]) -> list[str]:
    """Columns: atan, then rules measured with an earlier version of the package (in the JSON, not in
    :data:`RULES`, e.g. "tssl-0.1.0"), then the rules of :data:`RULES` in their order."""
    return (
        [n for n in RULES if n in names and n == "atan"]
        + sorted(names - set(RULES))
        + [n for n in RULES if n in names and n != "atan"]
    )


def neuron_label(record: dict) -> str:
    """The neuron column: its kind, with the beta and reset of a run that chose them (``--betas``, ``--resets``)."""
    if "beta" not in record:
        return record["neuron"]
    return f"{record['neuron']} β={record['beta']:g} {record['reset']}"


def steps_label(steps: int) -> str:
    """The T column: a number of steps, or "all" for every frame of a recording (``--steps 0``)."""
    return str(steps) if steps else "all"


def summarise(runs: list[dict]) -> dict[tuple, dict[str, float]]:
    cells: dict[tuple, list[dict]] = {}
    for record in runs:
        key = (record["loss"], neuron_label(record), record["steps"], record["rule"])
        cells.setdefault(key, []).append(record)
    summary = {}
    for key, records in cells.items():
        accuracy = [100 * r["accuracy"] for r in records]
        summary[key] = {
            "mean": statistics.mean(accuracy),
            "spread": (max(accuracy) - min(accuracy)) / 2,
            "seeds": len(records),
            "membrane": statistics.mean(100 * r["accuracy_membrane"] for r in records),
            "ties": statistics.mean(100 * r["ties"] for r in records),
            "output_rate": statistics.mean(r["output_rate"] for r in records),
            "seconds": statistics.mean(r["seconds_per_batch"] for r in records),
        }
    return summary


def table(summary: dict[tuple, dict[str, float]], rules: list[str]) -> str:
    """Markdown table: one row per (loss, neuron, T), one column per rule, mean +- half-range over seeds."""
    rows = sorted({key[:3] for key in summary}, key=lambda k: (LOSSES.index(k[0]), k[1], k[2]))
    lines = ["| loss | neuron | T | " + " | ".join(rules) + " |", "|---|---|---|" + "---|" * len(rules)]
    for loss, neuron, steps in rows:
        cells = []
        for rule in rules:
            cell = summary.get((loss, neuron, steps, rule))
            cells.append("" if cell is None else f"{cell['mean']:.1f} ± {cell['spread']:.1f}")
        lines.append(f"| {loss} | {neuron} | {steps_label(steps)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(summary: dict[tuple, dict[str, float]], rules: list[str], path: Path) -> None:
    """One panel per (neuron, loss): accuracy against time steps per rule, or a bar per rule when the
    results have one number of steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    losses = [loss for loss in LOSSES if any(key[0] == loss for key in summary)]
    neurons = sorted({key[1] for key in summary})
    steps = sorted({key[2] for key in summary})
    colours = rule_colours(rules)
    height = 2.8 * len(neurons) + (1.2 if len(steps) == 1 else 0.0)
    figure, axes = plt.subplots(len(neurons), len(losses), figsize=(3.2 * len(losses), height), squeeze=False)
    for (row, neuron), (column, loss) in itertools.product(enumerate(neurons), enumerate(losses)):
        axis = axes[row][column]
        if len(steps) == 1:
            cells = [(rule, summary.get((loss, neuron, steps[0], rule))) for rule in rules]
            cells = [(rule, cell) for rule, cell in cells if cell is not None]
            axis.bar(
                range(len(cells)),
                [cell["mean"] for _, cell in cells],
                yerr=[cell["spread"] for _, cell in cells],
                color=[colours[rule] for rule, _ in cells],
            )
            axis.set_xticks(range(len(cells)), [rule for rule, _ in cells], rotation=35, ha="right", fontsize=7)
            axis.set_title(f"{loss}, {neuron}, T = {steps_label(steps[0])}", fontsize=9)
        else:
            for rule in rules:
                points = sorted((k[2], v) for k, v in summary.items() if k[:2] == (loss, neuron) and k[3] == rule)
                if points:
                    axis.errorbar(
                        [p[0] for p in points],
                        [p[1]["mean"] for p in points],
                        yerr=[p[1]["spread"] for p in points],
                        marker="o",
                        color=colours[rule],
                    )
            axis.set_title(f"{loss}, {neuron}", fontsize=9)
            axis.set_xscale("log")
            axis.minorticks_off()
            axis.set_xticks(steps, [str(t) for t in steps])
            if row == len(neurons) - 1:
                axis.set_xlabel("time steps T")
        axis.set_ylim(0, 100)
        axis.grid(alpha=0.3)
        if column == 0:
            axis.set_ylabel("test accuracy (%), spike count")
    if len(steps) > 1:  # every rule in the first panel's legend, drawn in a panel or not
        handles = [Line2D([], [], marker="o", color=colours[rule], label=rule) for rule in rules]
        axes[0][0].legend(handles=handles, fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


#: what :func:`plot_losses` draws against the batch, from each run's record, with its axis label
TRACES = {"losses": "training loss", "output_rates": "output firing rate", "grad_norms": "gradient norm"}


def plot_losses(runs: list[dict], rules: list[str], path: Path) -> None:
    """One column per (loss, neuron, T) and one row per trace of :data:`TRACES` that every run records:
    each run against the batch, one colour per rule."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = sorted({(r["loss"], neuron_label(r), r["steps"]) for r in runs}, key=lambda k: (LOSSES.index(k[0]), *k[1:]))
    traces = [trace for trace in TRACES if all(trace in r for r in runs)]
    colours = rule_colours(rules)
    figure, axes = plt.subplots(
        len(traces), len(cells), figsize=(3.6 * len(cells), 2.6 * len(traces) + 0.4), squeeze=False, sharex=True
    )
    for column, cell in enumerate(cells):
        for row, trace in enumerate(traces):
            axis = axes[row][column]
            shown = []
            for rule in rules:
                mine = [r for r in runs if (r["loss"], neuron_label(r), r["steps"]) == cell and r["rule"] == rule]
                for index, record in enumerate(sorted(mine, key=lambda r: r["seed"])):
                    label = rule if index == 0 else None
                    axis.plot(record[trace], color=colours[rule], alpha=0.8, linewidth=1.0, label=label)
                    shown += record[trace]
            if trace == "grad_norms":
                axis.set_yscale("log")  # spans orders of magnitude between rules and batches
            else:
                top = statistics.quantiles(shown, n=20)[-1] if len(shown) > 1 else max(shown)
                if top > 0:
                    axis.set_ylim(0, 1.2 * top)  # the first batches' peaks run off the top
            if row == 0:
                axis.set_title(f"{cell[0]}, {cell[1]}, T = {steps_label(cell[2])}", fontsize=9)
            if column == 0:
                axis.set_ylabel(f"{TRACES[trace]} (every seed)" if row == 0 else TRACES[trace])
            axis.grid(alpha=0.3)
        axes[-1][column].set_xlabel("batch")
    axes[0][0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--network", default="tutorial5", choices=list(NETWORKS))
    parser.add_argument("--data-root", default="data", help='MNIST folder for torchvision, or "bundled"')
    parser.add_argument("--losses", nargs="+", default=list(LOSSES), choices=LOSSES)
    parser.add_argument("--neurons", nargs="+", default=list(NEURONS), choices=NEURONS)
    parser.add_argument(
        "--steps", nargs="+", type=int, help="time steps (default 5 10 25; tutorial 7: 0, every frame of a recording)"
    )
    parser.add_argument("--betas", nargs="+", type=float, help="the neurons' beta (default: the tutorial's)")
    parser.add_argument(
        "--resets", nargs="+", choices=("subtract", "zero"), help="reset mechanisms (default: subtract)"
    )
    parser.add_argument("--rules", nargs="+", default=["atan", "tssl"], choices=list(RULES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--plot-only", action="store_true")
    args = parser.parse_args(argv)
    framed = NETWORKS[args.network].dataset == "nmnist"
    if args.steps is None:
        args.steps = [0] if framed else [5, 10, 25]
    if framed != (args.steps == [0]):
        parser.error(f"--steps {args.steps}: tutorial 7 feeds every frame (--steps 0), the others a number of steps")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "switch_grid.json"
    results = json.loads(path.read_text()) if path.exists() else {"network": args.network, "runs": []}
    held = results.get("network", "tutorial5")  # results written before --network existed are tutorial 5's
    if not args.plot_only and held != args.network:
        parser.error(f"--network {args.network}: {path} holds runs of {held}; use another --out")
    lengths = {r["batches"] for r in results["runs"]} - {args.batches}
    if not args.plot_only and lengths:  # the tables average a cell's runs: one training length per folder
        parser.error(f"--batches {args.batches}: {path} holds runs of {sorted(lengths)} batches; use another --out")
    chosen = args.betas is not None or args.resets is not None  # the runs record their beta and reset
    betas = args.betas or [NETWORKS[args.network].beta]
    resets = args.resets or ["subtract"]
    names = ("loss", "neuron", "steps", "rule", "seed", "batches") + (("beta", "reset") if chosen else ())
    done = {tuple(r.get(name) for name in names) for r in results["runs"]}
    if not args.plot_only:
        data = load_nmnist(args.data_root) if framed else load_mnist(args.data_root)
        grid = itertools.product(args.seeds, args.losses, args.neurons, betas, resets, args.steps, args.rules)
        for seed, loss, neuron, beta, reset, steps, rule in grid:
            key = (loss, neuron, steps, rule, seed, args.batches) + ((beta, reset) if chosen else ())
            if key in done:
                continue
            record = run(data, args.network, loss, neuron, steps, rule, seed, args.batches, args.test_size, beta, reset)
            results["runs"].append(dict(zip(names, key, strict=True)) | record)
            results["versions"] = {"torch": torch.__version__, "snntorch": snn.__version__, "package": st.__version__}
            path.write_text(json.dumps(results, indent=1))
            label = neuron_label(results["runs"][-1])
            accuracy = 100 * record["accuracy"]
            print(f"{loss:12s} {label:22s} T={steps_label(steps):3s} {rule:26s} seed {seed}: {accuracy:.1f} %")
    rules = rule_order({r["rule"] for r in results["runs"]})
    summary = summarise(results["runs"])
    (args.out / "switch_grid.md").write_text(table(summary, rules) + "\n")
    plot(summary, rules, args.out / "switch_grid.png")
    if all("losses" in r for r in results["runs"]):  # runs recorded before they kept their losses have none
        plot_losses(results["runs"], rules, args.out / "switch_grid_losses.png")


if __name__ == "__main__":
    main()
