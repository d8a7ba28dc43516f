"""Training loop of the paper's experiments: data, model, rule, loss, metrics, checkpoints, DDP."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Sampler
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from snntorch_tssl import functional, rules
from snntorch_tssl.data import bundled_mnist, image_dataset, nmnist_dataset
from snntorch_tssl.experiments.models import ENGINES, SpikingNet, build_model
from snntorch_tssl.experiments.presets import Preset
from snntorch_tssl.experiments.results import plot_accuracy, plot_raster, save_checkpoint, write_json
from snntorch_tssl.spikegen import targets_spike_sequence

#: Spike-count targets of the count loss per time step (15 and 3 at the paper's T = 30).
COUNT_TARGETS_PER_STEP = (0.5, 0.1)
CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.json"


class ConfigError(ValueError):
    """The requested run cannot be built (unknown rule, unusable T, bad checkpoint, ...)."""


class CheckpointError(ConfigError):
    """A checkpoint that cannot be read or belongs to another experiment."""


@dataclass
class TrainConfig:
    """Everything a training run depends on.

    :param preset: the experiment (with any command-line overrides applied)
    :param rule: gradient method, a name of :func:`snntorch_tssl.rules.available`
    :param engine: "sequence" (:class:`snntorch_tssl.SynapticSequence`) or "stock" (``snn.Synaptic`` in a loop)
    :param seed: seed of the weights, the data order, dropout and augmentation
    :param device: "cpu", "cuda", "cuda:N" or "auto" (CUDA when available)
    :param data_root: dataset folder (``None``: the bundled subset, or ``./data`` for other datasets)
    :param out: folder for metrics, checkpoint and plots
    :param resume: checkpoint file or run folder to continue from
    :param download: let torchvision/tonic download missing datasets
    :param max_batches: stop each training and test pass after this many batches (smoke tests)
    :param workers: DataLoader worker processes
    :param progress: show tqdm progress bars (rank 0 only)
    :param threads: CPU threads per process (``None``: PyTorch's default)

    Example::

        from snntorch_tssl.experiments import TrainConfig, get_preset

        config = TrainConfig(preset=get_preset("quickstart"), rule="tssl", engine="sequence", out="runs/quickstart")
    """

    preset: Preset
    rule: str = "tssl"
    engine: str = "sequence"
    seed: int = 0
    device: str = "auto"
    data_root: str | None = None
    out: Path = field(default_factory=lambda: Path("runs"))
    resume: Path | None = None
    download: bool = True
    max_batches: int | None = None
    workers: int = 0
    progress: bool = True
    threads: int | None = 1

    def describe(self) -> dict:
        """The run's settings as a JSON-ready dict (stored in metrics and checkpoints)."""
        settings = {key: value for key, value in asdict(self).items() if key not in ("preset", "out", "resume")}
        return {"preset": self.preset.to_dict(), **settings}


# --------------------------------------------------------------------------
# Distributed setup (torchrun sets RANK, WORLD_SIZE, LOCAL_RANK).
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Process:
    """This process's place in a (possibly single-process) run."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ConfigError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} was requested but CUDA is not available; use --device cpu")
    return device


def start_process(device: str) -> Process:
    """Join the torchrun process group if there is one (gloo on CPU, nccl on CUDA).

    :param device: the requested device (see :class:`TrainConfig`)
    :returns: rank, world size and the device this process trains on
    """
    resolved = _resolve_device(device)
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


def _all_reduce(values: Tensor, process: Process) -> Tensor:
    if process.world_size > 1:
        values = values.to(process.device)
        dist.all_reduce(values)
    return values.cpu()


class _ShardSampler(Sampler[int]):
    """Every ``world_size``-th index starting at ``rank``, in order, without padding (exact test metrics)."""

    def __init__(self, size: int, process: Process) -> None:
        self.indices = list(range(process.rank, size, process.world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


# --------------------------------------------------------------------------
# Building blocks: data, rule, loss.
# --------------------------------------------------------------------------


def load_datasets(preset: Preset, data_root: str | None, download: bool) -> tuple[Dataset, Dataset]:
    """Training and test sets of ``preset.dataset`` (raises :class:`snntorch_tssl.data.DataNotFoundError`)."""
    root = "data" if data_root is None else data_root
    if preset.dataset == "mnist-bundled":
        if data_root is not None:
            raise ConfigError(f"preset {preset.name!r} uses the bundled MNIST subset and takes no --data-root")
        return bundled_mnist(train=True), bundled_mnist(train=False)
    if preset.dataset == "nmnist":
        train = nmnist_dataset(root, train=True, steps=preset.steps, download=download)
        return train, nmnist_dataset(root, train=False, steps=preset.steps, download=download)
    train = image_dataset(preset.dataset, root, train=True, download=download, augment=preset.augment)
    return train, image_dataset(preset.dataset, root, train=False, download=download)


def to_sequence(x: Tensor, steps: int) -> Tensor:
    """Time-first input: images ``[B, C, H, W]`` repeated T times; event frames ``[B, T, ...]`` transposed."""
    if x.dim() == 5:
        return x.transpose(0, 1)
    return x.unsqueeze(0).expand(steps, *x.shape)


def spike_grad_factory(rule: str, tau_s: float) -> Callable[[], Callable[[Tensor], Tensor]]:
    """Return a factory of fresh ``spike_grad`` objects for ``rule`` (TSSL-BP gets the network's tau_s)."""
    names = rules.available()
    if rule not in names:
        raise ConfigError(f"rule must be one of {', '.join(names)}, got {rule!r}")
    if rule == "tssl":
        return lambda: rules.get(rule, tau_s=tau_s)
    return lambda: rules.get(rule)


def make_loss(preset: Preset) -> Callable[[Tensor, Tensor], Tensor]:
    """The preset's loss, summed over the batch (the authors' reduction); checks that its target fits T."""
    if preset.loss == "count":
        desired, undesired = (rate * preset.steps for rate in COUNT_TARGETS_PER_STEP)
        return functional.count_loss(desired=desired, undesired=undesired, tau=preset.tau_s, reduction="sum")
    try:
        train = targets_spike_sequence(torch.zeros(1, dtype=torch.long), 2, preset.steps, preset.target)[:, 0, 0]
    except ValueError as error:
        raise ConfigError(f"target pattern {preset.target!r} cannot be used with T={preset.steps}: {error}") from error
    if train.sum() == 0:
        raise ConfigError(
            f"target pattern {preset.target!r} cannot be used with T={preset.steps}: the label neuron's target "
            f"{train.tolist()} has no spike, so it is the same as the other neurons'; use more --steps"
        )
    return functional.van_rossum_loss(tau=preset.tau_s, pattern=preset.target, reduction="sum")


def _check_resume(checkpoint_path: Path, config: TrainConfig) -> dict:
    path = checkpoint_path / CHECKPOINT if checkpoint_path.is_dir() else checkpoint_path
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # any unreadable or foreign file
        raise CheckpointError(f"cannot read checkpoint {str(path)!r}: {error}") from error
    if not isinstance(state, dict) or "config" not in state or "model" not in state:
        raise CheckpointError(f"{str(path)!r} is not a checkpoint written by snntorch-tssl")
    saved = dict(state["config"])
    saved["preset"] = {key: value for key, value in saved.get("preset", {}).items() if key != "epochs"}
    ours = {key: value for key, value in config.preset.to_dict().items() if key != "epochs"}
    for key, wanted in (("preset", ours), ("engine", config.engine), ("rule", config.rule)):
        if saved.get(key) != wanted:
            name = saved.get(key, {}).get("name") if key == "preset" else saved.get(key)
            asked = config.preset.name if key == "preset" else wanted
            detail = "" if key != "preset" or name != asked else " (same name, different settings)"
            raise CheckpointError(
                f"checkpoint {str(path)!r} is from {key} {name!r}{detail}, but this run uses {key} {asked!r}"
            )
    return state


# --------------------------------------------------------------------------
# One epoch of training / evaluation.
# --------------------------------------------------------------------------


def _train_epoch(
    model: nn.Module,
    loader: DataLoader,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    process: Process,
    epoch: int,
) -> dict:
    preset = config.preset
    model.train()
    totals = torch.zeros(3, dtype=torch.float64)  # loss sum, correct, samples
    bar = tqdm(loader, desc=f"epoch {epoch} train", leave=False, disable=not (config.progress and process.is_main))
    for batch, (x, y) in enumerate(bar):
        if config.max_batches is not None and batch >= config.max_batches:
            break
        x, y = x.to(process.device, non_blocking=True), y.to(process.device, non_blocking=True)
        spk = model(to_sequence(x, preset.steps))
        loss = loss_fn(spk, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), preset.clip_norm)
        optimizer.step()
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.clamp_(-preset.weight_clamp, preset.weight_clamp)
        totals += torch.tensor(
            [loss.item(), functional.accuracy_psc(spk.detach(), y, tau=preset.tau_s) * len(y), len(y)],
            dtype=torch.float64,
        )
        bar.set_postfix(loss=f"{totals[0] / totals[2]:.4f}", acc=f"{totals[1] / totals[2]:.3f}")
    loss_sum, correct, samples = _all_reduce(totals, process).tolist()
    return {"train_loss": loss_sum / max(samples, 1), "train_accuracy": correct / max(samples, 1), "samples": samples}


@torch.no_grad()
def _evaluate(model: SpikingNet, loader: DataLoader, config: TrainConfig, process: Process, epoch: int) -> dict:
    preset = config.preset
    model.eval()
    layers = model.spiking_layers()
    counts: dict[str, Tensor] = {}

    def recorder(name: str):
        def hook(_module: nn.Module, _inputs: tuple, output: Tensor) -> None:
            per_unit = output.detach().sum(dim=(0, 1)).double().cpu()
            counts[name] = counts[name] + per_unit if name in counts else per_unit

        return hook

    handles = [module.register_forward_hook(recorder(name)) for name, module in layers]
    correct = samples = 0.0
    raster = None
    try:
        bar = tqdm(loader, desc=f"epoch {epoch} test", leave=False, disable=not (config.progress and process.is_main))
        for batch, (x, y) in enumerate(bar):
            if config.max_batches is not None and batch >= config.max_batches:
                break
            x, y = x.to(process.device), y.to(process.device)
            spk = model(to_sequence(x, preset.steps))
            correct += functional.accuracy_psc(spk, y, tau=preset.tau_s) * len(y)
            samples += len(y)
            if raster is None:
                raster = (spk[:, :4].cpu(), y[:4].cpu())
    finally:
        for handle in handles:
            handle.remove()
    names = [name for name, _ in layers]
    unit_counts = [_all_reduce(counts[name], process) for name in names]
    correct, samples = _all_reduce(torch.tensor([correct, samples], dtype=torch.float64), process).tolist()
    silent = {f"layer{index + 1}": float((c == 0).double().mean()) for index, c in enumerate(unit_counts)}
    return {"test_accuracy": correct / max(samples, 1), "silent_fraction": silent, "raster": raster}


# --------------------------------------------------------------------------
# The run.
# --------------------------------------------------------------------------


def _seed(seed: int, offset: int = 0) -> None:
    torch.manual_seed(seed * 1000 + offset)


def train(config: TrainConfig) -> dict:
    r"""Train ``config.preset`` and return the results (also written to ``config.out``).

    Every input is checked before anything is written: an unknown rule, a
    target pattern that does not fit T, missing data or a checkpoint of
    another experiment raise (:class:`ConfigError`,
    :class:`snntorch_tssl.data.DataNotFoundError`) and leave ``config.out``
    untouched. Afterwards, at the end of every epoch, rank 0 atomically
    rewrites ``metrics.json``, ``checkpoint.pt``, ``accuracy.png`` and
    ``raster.png``.

    One step of the recipe (TSSL_BP spec, section 5):

    .. math::
        W \leftarrow \operatorname{clamp}\big(\operatorname{AdamW}(W, \operatorname{clip}_1(\nabla_W L)),
        -4, 4\big)

    :param config: the run
    :returns: ``{"config": ..., "epochs": [...], "best_test_accuracy": ..., "finished": True}``

    Example::

        from pathlib import Path
        from snntorch_tssl.experiments import TrainConfig, get_preset, train

        result = train(TrainConfig(get_preset("quickstart").with_overrides(epochs=1), out=Path("runs/demo")))
        print(result["best_test_accuracy"])
    """
    if config.engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {config.engine!r}")
    preset = config.preset
    spike_grad = spike_grad_factory(config.rule, preset.tau_s)
    loss_fn = make_loss(preset)
    state = _check_resume(config.resume, config) if config.resume is not None else None
    train_set, test_set = load_datasets(preset, config.data_root, config.download)
    process = start_process(config.device)
    if config.threads is not None:
        torch.set_num_threads(config.threads)

    _seed(config.seed)
    sample = to_sequence(test_set[0][0].unsqueeze(0), preset.steps)
    model = build_model(
        preset.architecture,
        tuple(sample.shape[2:]),
        tau_s=preset.tau_s,
        tau_m=preset.tau_m,
        spike_grad=spike_grad,
        engine=config.engine,
        conv_init_scale=preset.conv_init_scale,
        dropout=preset.dropout,
    )
    try:
        with torch.no_grad():
            model.eval()(sample)
    except RuntimeError as error:
        raise ConfigError(f"rule {config.rule!r} does not run with engine {config.engine!r}: {error}") from error
    model.to(process.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=preset.lr, weight_decay=preset.weight_decay)
    history: list[dict] = []
    start_epoch = 1
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history = state["history"]
        start_epoch = state["epoch"] + 1
    network = model
    if process.world_size > 1:
        network = nn.parallel.DistributedDataParallel(
            model, device_ids=[process.device.index] if process.device.type == "cuda" else None, broadcast_buffers=False
        )

    train_sampler = DistributedSampler(
        train_set, num_replicas=process.world_size, rank=process.rank, shuffle=True, seed=config.seed
    )
    loader_args = {"num_workers": config.workers, "pin_memory": process.device.type == "cuda"}
    train_loader = DataLoader(train_set, batch_size=preset.batch_size, sampler=train_sampler, **loader_args)
    test_loader = DataLoader(
        test_set, batch_size=preset.batch_size, sampler=_ShardSampler(len(test_set), process), **loader_args
    )
    out = Path(config.out)
    if process.is_main:
        out.mkdir(parents=True, exist_ok=True)
    result = {"config": config.describe(), "world_size": process.world_size, "epochs": history}
    title = f"{preset.name}, {config.rule}, T={preset.steps}"
    for epoch in range(start_epoch, preset.epochs + 1):
        train_sampler.set_epoch(epoch)
        _seed(config.seed, offset=epoch * 100 + process.rank + 1)
        started, cpu_started = time.perf_counter(), time.process_time()
        metrics = _train_epoch(network, train_loader, loss_fn, optimizer, config, process, epoch)
        train_time = time.perf_counter() - started
        evaluation = _evaluate(model, test_loader, config, process, epoch)
        raster = evaluation.pop("raster")
        best = max([row["test_accuracy"] for row in history] + [evaluation["test_accuracy"]])
        row = {
            "epoch": epoch,
            "train_loss": metrics["train_loss"],
            "train_accuracy": metrics["train_accuracy"],
            "test_accuracy": evaluation["test_accuracy"],
            "best_test_accuracy": best,
            "epoch_time_s": time.perf_counter() - started,
            "epoch_cpu_time_s": time.process_time() - cpu_started,
            "train_samples_per_s": metrics["samples"] / train_time,
            "silent_fraction": evaluation["silent_fraction"],
        }
        history.append(row)
        if process.is_main:
            result["best_test_accuracy"] = best
            result["finished"] = epoch == preset.epochs
            save_checkpoint(
                out / CHECKPOINT,
                {
                    "config": config.describe(),
                    "epoch": epoch,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "history": history,
                },
            )
            write_json(out / METRICS, result)
            plot_accuracy(history, out / "accuracy.png", title)
            if raster is not None:
                plot_raster(*raster, out / "raster.png", f"{title}, epoch {epoch}")
            print(
                f"epoch {epoch}/{preset.epochs}: train loss {row['train_loss']:.4f}, "
                f"train acc {100 * row['train_accuracy']:.2f}%, test acc {100 * row['test_accuracy']:.2f}% "
                f"(best {100 * best:.2f}%), {row['epoch_time_s']:.1f} s, "
                f"{row['train_samples_per_s']:.0f} samples/s",
                flush=True,
            )
    result.setdefault("best_test_accuracy", max((row["test_accuracy"] for row in history), default=math.nan))
    result["finished"] = True
    if process.is_main and start_epoch > preset.epochs:
        write_json(out / METRICS, result)
    return result
