"""The training run: builds data, rule, loss and network from a :class:`TrainConfig`, runs the epochs, writes results.

Its parts have their own modules: the settings in :mod:`~snntorch_tssl.experiments.config`,
the process group in :mod:`~snntorch_tssl.experiments.distributed`, checkpoints in
:mod:`~snntorch_tssl.experiments.checkpoints`, the epoch loop in
:mod:`~snntorch_tssl.experiments.loop` and the results folder in
:mod:`~snntorch_tssl.experiments.results`.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from snntorch_tssl import functional, rules
from snntorch_tssl.data import bundled_mnist, image_dataset, nmnist_dataset
from snntorch_tssl.experiments.checkpoints import check_resumable, load_checkpoint, restore, save_checkpoint
from snntorch_tssl.experiments.config import ConfigError, TrainConfig
from snntorch_tssl.experiments.distributed import ShardSampler, resolve_device, start_process
from snntorch_tssl.experiments.loop import evaluate, seed, to_sequence, train_epoch
from snntorch_tssl.experiments.models import build_model
from snntorch_tssl.experiments.presets import Preset
from snntorch_tssl.experiments.results import METRICS, OutputError, check_output, plot_accuracy, plot_raster, write_json
from snntorch_tssl.spikegen import targets_spike_sequence

#: Spike-count targets of the count loss per time step (15 and 3 at the paper's T = 30).
COUNT_TARGETS_PER_STEP = (0.5, 0.1)


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
    unusable = f"target pattern {preset.target!r} cannot be used with T={preset.steps}"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a target equal to the other neurons' is an error here
        try:
            targets_spike_sequence(torch.zeros(1, dtype=torch.long), 2, preset.steps, preset.target)
        except (ValueError, UserWarning) as error:
            raise ConfigError(f"{unusable}: {error}") from error
    return functional.van_rossum_loss(tau=preset.tau_s, pattern=preset.target, reduction="sum")


def _continues_in_place(config: TrainConfig, checkpoint_path: Path) -> bool:
    """Whether the run writes into the folder of the checkpoint it resumes."""
    return Path(config.out).resolve() == checkpoint_path.parent.resolve()


def train(config: TrainConfig) -> dict:
    r"""Train ``config.preset`` and return the results (also written to ``config.out``).

    Every input is checked before anything is written: an unknown rule, a
    target pattern that does not fit T, an unusable device, a results folder
    that is a file, cannot be written or already holds another run, missing
    data, or a malformed checkpoint or one of another experiment raise
    (:class:`ConfigError`, :class:`CheckpointError`, :class:`OutputError`,
    :class:`snntorch_tssl.data.DataNotFoundError`) and leave ``config.out``
    untouched. Afterwards, at the end of every epoch, rank 0 atomically
    rewrites ``metrics.json``, ``checkpoint.pt``, ``accuracy.png`` and
    ``raster.png``; a write that fails (a full disk) raises
    :class:`OutputError` and leaves the previous epoch's files as they were.

    One step of the recipe (TSSL_BP spec, section 5):

    .. math::
        W \leftarrow \operatorname{clamp}\big(\operatorname{AdamW}(W, \operatorname{clip}_1(\nabla_W L)),
        -4, 4\big)

    :param config: the run
    :returns: ``{"config": ..., "epochs": [...], "best_test_accuracy": ..., "finished": True}``

    Example::

        import tempfile
        from pathlib import Path
        from snntorch_tssl.experiments import TrainConfig, get_preset, train

        out = Path(tempfile.mkdtemp()) / "demo"
        result = train(TrainConfig(get_preset("quickstart").with_overrides(epochs=1), out=out))
        print(result["best_test_accuracy"])
    """
    preset = config.preset
    spike_grad = spike_grad_factory(config.rule, preset.tau_s)
    loss_fn = make_loss(preset)
    resolve_device(config.device)
    checkpoint = None
    if config.resume is not None:
        checkpoint = load_checkpoint(config.resume)
        check_resumable(checkpoint, config)
    out = Path(config.out)
    check_output(out, continuing=checkpoint is not None and _continues_in_place(config, checkpoint.path))
    train_set, test_set = load_datasets(preset, config.data_root, config.download)
    process = start_process(config.device)
    if config.threads is not None:
        torch.set_num_threads(config.threads)

    seed(config.seed)
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
    if checkpoint is not None:
        restore(checkpoint, model, optimizer)
        history = list(checkpoint.history)
        start_epoch = checkpoint.epoch + 1
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
        test_set, batch_size=preset.batch_size, sampler=ShardSampler(len(test_set), process), **loader_args
    )
    result = {"config": config.describe(), "world_size": process.world_size, "epochs": history}
    title = f"{preset.name}, {config.rule}, T={preset.steps}"
    for epoch in range(start_epoch, preset.epochs + 1):
        train_sampler.set_epoch(epoch)
        seed(config.seed, offset=epoch * 100 + process.rank + 1)
        started, cpu_started = time.perf_counter(), time.process_time()
        metrics = train_epoch(network, train_loader, loss_fn, optimizer, config, process, epoch)
        train_time = time.perf_counter() - started
        evaluation = evaluate(model, test_loader, config, process, epoch)
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
            _write_epoch(out, config, epoch, model, optimizer, history, result, raster, title)
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
        _write(out, lambda: write_json(out / METRICS, result))
    return result


def _write(out: Path, write: Callable[[], None]) -> None:
    try:
        write()
    except OSError as error:
        raise OutputError(
            f"cannot write results to {str(out)!r}: {error.strerror or error} (every file there is whole: each is "
            f"replaced atomically, so its checkpoint is the last one saved)"
        ) from error


def _write_epoch(
    out: Path, config: TrainConfig, epoch: int, model: nn.Module, optimizer: torch.optim.Optimizer,
    history: list[dict], result: dict, raster: tuple[Tensor, Tensor] | None, title: str,
) -> None:  # fmt: skip
    """Write the epoch's checkpoint, metrics and plots into ``out`` (each file atomically)."""

    def write() -> None:
        out.mkdir(parents=True, exist_ok=True)
        save_checkpoint(out, config, epoch, model, optimizer, history)
        write_json(out / METRICS, result)
        plot_accuracy(history, out / "accuracy.png", title)
        if raster is not None:
            plot_raster(*raster, out / "raster.png", f"{title}, epoch {epoch}")

    _write(out, write)
