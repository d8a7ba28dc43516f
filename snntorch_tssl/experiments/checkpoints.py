"""Checkpoints of a training run: save, load and validate (used by the command line and the training loop alike).

A checkpoint is a ``torch.save`` of plain data and tensors only::

    {"config": TrainConfig.describe(), "epoch": int, "model": state_dict,
     "optimizer": state_dict, "history": [per-epoch metrics]}

It is loaded with ``torch.load(..., weights_only=True)``: unpickling may
build tensors and plain containers but never calls other code, so a crafted
file cannot run anything. Everything else in it is checked before use, and
every fault is a :class:`CheckpointError` whose message names the file and
what is wrong with it in one line.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from snntorch_tssl.experiments.config import ConfigError, TrainConfig, check_seed
from snntorch_tssl.experiments.presets import Preset
from snntorch_tssl.experiments.results import CHECKPOINT, atomic_write_bytes

KEYS = ("config", "epoch", "model", "optimizer", "history")
#: Preset settings a command-line option can change, and that option.
OPTIONS = {"steps": "--steps", "batch_size": "--batch-size", "lr": "--lr", "target": "--target", "epochs": "--epochs"}


class CheckpointError(ConfigError):
    """A checkpoint that cannot be read, is malformed, or belongs to another experiment."""


@dataclass(frozen=True)
class Checkpoint:
    """A validated checkpoint: its run's settings, the finished epoch, the network's and the optimizer's state.

    :param path: the checkpoint file
    :param preset: the run's preset (as it was trained)
    :param rule: the gradient rule's name
    :param engine: "sequence" or "stock"
    :param seed: the run's seed
    :param epoch: the last finished epoch (>= 1)
    :param model: the network's state dict
    :param optimizer: the optimizer's state dict
    :param history: one dict of metrics per finished epoch
    """

    path: Path
    preset: Preset
    rule: str
    engine: str
    seed: int
    epoch: int
    model: dict[str, Tensor]
    optimizer: dict
    history: list[dict]


def checkpoint_file(path: str | Path) -> Path:
    """The checkpoint file of ``path``: the file itself, or ``checkpoint.pt`` in a run folder."""
    path = Path(path)
    return path / CHECKPOINT if path.is_dir() else path


def save_checkpoint(
    folder: str | Path, config: TrainConfig, epoch: int, model: nn.Module, optimizer: torch.optim.Optimizer,
    history: list[dict],
) -> None:  # fmt: skip
    """Write ``folder/checkpoint.pt`` atomically (readers see the previous epoch's file or the new one)."""
    state = {
        "config": config.describe(),
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "history": history,
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(Path(folder) / CHECKPOINT, buffer.getvalue())


def _first_line(error: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip().splitlines()  # no terminal colour codes
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _refusal(error: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in a few words."""
    found = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
    return f"it asks to call {found.group(1)}" if found else _first_line(error)


def _tensors(tree: object, prefix: str) -> list[tuple[str, Tensor]]:
    """Every tensor in a nest of dicts and lists, with its path."""
    if isinstance(tree, Tensor):
        return [(prefix, tree)]
    if isinstance(tree, dict):
        return [item for key, value in tree.items() for item in _tensors(value, f"{prefix}.{key}")]
    if isinstance(tree, (list, tuple)):
        return [item for index, value in enumerate(tree) for item in _tensors(value, f"{prefix}[{index}]")]
    return []


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load and validate a checkpoint file (or the ``checkpoint.pt`` of a run folder).

    :param path: a checkpoint file or a run folder
    :returns: the checkpoint, its structure, preset, rule, engine, seed and values checked
    :raises CheckpointError: the file is missing or unreadable, holds objects other than tensors
        and plain data, lacks a part, has an incomplete or invalid preset, no valid seed, or
        non-finite (NaN or inf) weights or optimizer state

    Example::

        from snntorch_tssl.experiments.checkpoints import load_checkpoint

        checkpoint = load_checkpoint("runs/quickstart-tssl-sequence-seed0")
        print(checkpoint.preset.name, checkpoint.epoch)
    """
    path = checkpoint_file(path)
    where = f"checkpoint {str(path)!r}"
    if not path.is_file():
        raise CheckpointError(f"{where} does not exist (give a checkpoint file or a run folder holding {CHECKPOINT})")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # any unreadable file, or one that holds more than tensors and plain data
        raise CheckpointError(
            f"cannot read {where}: it is not a checkpoint written by snntorch-tssl, or it holds objects other than "
            f"tensors and plain data, which are never loaded ({_refusal(error)})"
        ) from error
    if not isinstance(state, dict):
        raise CheckpointError(
            f"{where} is not a checkpoint written by snntorch-tssl (it holds a {type(state).__name__})"
        )
    missing = [key for key in KEYS if key not in state]
    if missing:
        raise CheckpointError(f"{where} has no {', '.join(map(repr, missing))} (a checkpoint holds {', '.join(KEYS)})")
    config, epoch, model, optimizer, history = (state[key] for key in KEYS)
    if not isinstance(config, dict) or not isinstance(config.get("preset"), dict):
        raise CheckpointError(f"{where} has no preset in its 'config'")
    preset = _preset(config["preset"], where)
    names = {}
    for key in ("rule", "engine"):
        if not isinstance(config.get(key), str):
            raise CheckpointError(f"{where} has no {key} name in its 'config', got {config.get(key)!r}")
        names[key] = config[key]
    if "seed" not in config:
        raise CheckpointError(f"{where} has no seed in its 'config'")
    try:
        seed = check_seed(config["seed"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{where} has an invalid seed: {error}") from error
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        raise CheckpointError(f"{where} has an invalid 'epoch': must be an int >= 1, got {epoch!r}")
    if not isinstance(model, dict) or not model or not all(isinstance(v, Tensor) for v in model.values()):
        raise CheckpointError(f"{where} has an invalid 'model': must be a state dict of tensors")
    if not isinstance(optimizer, dict) or not {"state", "param_groups"} <= set(optimizer):
        raise CheckpointError(f"{where} has an invalid 'optimizer': must be a state dict with state and param_groups")
    if not isinstance(history, list) or len(history) != epoch or not all(isinstance(row, dict) for row in history):
        raise CheckpointError(f"{where} has an invalid 'history': must be a list of {epoch} per-epoch dicts")
    for part, tree in (("model", model), ("optimizer", optimizer)):
        for name, tensor in _tensors(tree, part):
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                raise CheckpointError(
                    f"{where} holds non-finite values (NaN or inf) in {name}; resume from an earlier checkpoint "
                    "or start a new run"
                )
    return Checkpoint(path, preset, names["rule"], names["engine"], seed, epoch, model, optimizer, history)


def _preset(saved: dict, where: str) -> Preset:
    fields = Preset.field_names()
    missing = [name for name in fields if name not in saved]
    unknown = [name for name in saved if name not in fields]
    if missing or unknown:
        parts = [f"missing {', '.join(missing)}" if missing else "", f"unknown {', '.join(unknown)}" if unknown else ""]
        raise CheckpointError(f"{where} has an incomplete preset: {'; '.join(filter(None, parts))}")
    try:
        return Preset(**saved)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{where} has an invalid preset: {error}") from error


def check_resumable(checkpoint: Checkpoint, config: TrainConfig) -> None:
    """Check that ``config`` continues the run of ``checkpoint``: same preset (epochs aside), rule and engine.

    :raises CheckpointError: naming every setting that differs, with both values
    """
    where = f"checkpoint {str(checkpoint.path)!r}"
    if checkpoint.preset.name != config.preset.name:
        raise CheckpointError(
            f"{where} is from preset {checkpoint.preset.name!r}, but this run uses preset {config.preset.name!r}"
        )
    saved, asked = checkpoint.preset.to_dict(), config.preset.to_dict()
    differences = [
        (name, saved[name], asked[name])
        for name in Preset.field_names()
        if name != "epochs" and saved[name] != asked[name]
    ]
    differences += [
        (name, getattr(checkpoint, name), getattr(config, name))
        for name in ("rule", "engine")
        if getattr(checkpoint, name) != getattr(config, name)
    ]
    if differences:
        was = ", ".join(f"{name}={value!r}" for name, value, _ in differences)
        now = ", ".join(f"{name}={value!r}" for name, _, value in differences)
        options = [OPTIONS.get(name, f"--{name}") for name, *_ in differences]
        raise CheckpointError(
            f"{where} was trained with {was}, but this run asks for {now}; a resumed run keeps its settings "
            f"(leave out {', '.join(options)}), or start a new run"
        )


def restore(checkpoint: Checkpoint, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Load the checkpoint's state into ``model`` and ``optimizer`` (checked first: names and shapes).

    :raises CheckpointError: a missing, unexpected or differently shaped tensor, or an optimizer state
        that does not fit the network
    """
    where = f"checkpoint {str(checkpoint.path)!r}"
    expected = model.state_dict()
    missing = [name for name in expected if name not in checkpoint.model]
    unexpected = [name for name in checkpoint.model if name not in expected]
    if missing or unexpected:
        parts = [
            f"missing {', '.join(missing)}" if missing else "",
            f"unexpected {', '.join(unexpected)}" if unexpected else "",
        ]
        raise CheckpointError(f"{where} does not fit the network: {'; '.join(filter(None, parts))}")
    for name, tensor in expected.items():
        if checkpoint.model[name].shape != tensor.shape:
            raise CheckpointError(
                f"{where} does not fit the network: {name} has shape {tuple(checkpoint.model[name].shape)} in the "
                f"checkpoint, {tuple(tensor.shape)} in the network"
            )
    model.load_state_dict(checkpoint.model)
    fault = f"{where} has an optimizer state that does not fit the network"
    try:
        optimizer.load_state_dict(checkpoint.optimizer)
    except (ValueError, RuntimeError, KeyError, TypeError, IndexError) as error:
        raise CheckpointError(f"{fault} ({_first_line(error)})") from error
    names = {id(tensor): name for name, tensor in model.named_parameters()}
    for parameter, state in optimizer.state.items():
        for key, value in state.items():
            if isinstance(value, Tensor) and value.dim() > 0 and value.shape != parameter.shape:
                raise CheckpointError(
                    f"{fault}: its {key} of {names.get(id(parameter), 'a parameter')} has shape "
                    f"{tuple(value.shape)}, the parameter {tuple(parameter.shape)}"
                )
