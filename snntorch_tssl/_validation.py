"""Input checks shared by the public API.

Each check raises a ``TypeError`` or ``ValueError`` whose message names the
argument, what was expected and what was received.

Checks of tensor *values* (finiteness, label range) never make the host wait
for a device: on CPU tensors they read the data on the host (no device to
wait for) and raise the ``ValueError``; on every other device (CUDA, MPS,
meta, ...) they are device-side asserts (``torch._assert_async``) queued
behind the computation, so the hot path keeps no host synchronisation. While
``torch.compile`` traces, they are left out (no graph break).
"""

from __future__ import annotations

import math
from numbers import Real

import torch
from torch import Tensor


def check_positive(name: str, value: object, *, allow_inf: bool = False) -> float:
    """Return ``value`` as a float after checking it is a finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, (Real, Tensor)):
        raise TypeError(f"{name} must be a real number > 0, got {type(value).__name__} {value!r}")
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise TypeError(f"{name} must be a scalar, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    value = float(value)
    if math.isnan(value) or value <= 0 or (math.isinf(value) and not allow_inf):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def check_time_constant(name: str, value: object, *, allow_inf: bool = False) -> float:
    """Return a time constant in steps after checking it is a real number >= 1 (so ``1 - 1/value`` is in [0, 1))."""
    value = check_positive(name, value, allow_inf=allow_inf)
    if value < 1.0:
        raise ValueError(f"{name} must be >= 1 time step (so that the decay 1 - 1/{name} is in [0, 1)), got {value}")
    return value


def check_in_range(
    name: str, value: object, low: float, high: float, *, low_closed: bool = False, high_closed: bool = False
) -> float:
    """Return ``value`` as a float after checking it lies in the interval from ``low`` to ``high``.

    The ends are excluded unless ``low_closed`` / ``high_closed``.
    """
    interval = f"{'[' if low_closed else '('}{low}, {high}{']' if high_closed else ')'}"
    if isinstance(value, bool) or not isinstance(value, (Real, Tensor)):
        raise TypeError(f"{name} must be a real number in {interval}, got {type(value).__name__} {value!r}")
    if isinstance(value, Tensor) and value.numel() != 1:
        raise TypeError(f"{name} must be a scalar, got a tensor of shape {tuple(value.shape)}")
    value = float(value.item() if isinstance(value, Tensor) else value)
    above = low <= value if low_closed else low < value
    below = value <= high if high_closed else value < high
    if not (above and below):
        raise ValueError(f"{name} must lie in {interval}, got {value}")
    return value


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` after checking it is a bool."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return value


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """Return ``value`` after checking it is one of ``choices``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, one of {', '.join(map(repr, choices))}, got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value  # type: ignore[return-value]


def check_sequence(name: str, value: object, *, min_dim: int = 2, max_dim: int | None = None) -> Tensor:
    """Check a time-first floating tensor ``[T, B, ...]`` with T >= 1 and finite entries."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor shaped [T, B, ...], got {type(value).__name__}")
    if not (value.is_floating_point()):
        raise TypeError(f"{name} must have a floating dtype (float16/bfloat16/float32/float64), got {value.dtype}")
    if value.dim() < min_dim or (max_dim is not None and value.dim() > max_dim):
        wanted = (
            f"{min_dim}"
            if max_dim == min_dim
            else f"{min_dim} or more"
            if max_dim is None
            else f"{min_dim} to {max_dim}"
        )
        raise ValueError(f"{name} must have {wanted} dimensions [T, B, ...], got shape {tuple(value.shape)}")
    if value.shape[0] == 0:
        raise ValueError(f"{name} must have at least one time step, got shape {tuple(value.shape)}")
    check_finite(name, value)
    return value


def check_finite(name: str, value: Tensor) -> Tensor:
    """Check that a floating tensor holds no NaN or inf (on the host for CPU tensors, else device-side)."""
    if value.numel() == 0 or torch.compiler.is_compiling():
        return value
    if value.device.type != "cpu":
        torch._assert_async(torch.isfinite(value).all(), f"{name} must be finite (no NaN or inf)")
        return value
    # One reduction instead of an element-wise mask: a finite sum proves every entry finite; only a
    # non-finite sum (a NaN/inf entry, or an overflowing sum of finite ones) needs the exact check.
    if not torch.isfinite(value.sum()) and not torch.isfinite(value).all():
        nan = int(torch.isnan(value).sum())
        raise ValueError(
            f"{name} must be finite (no NaN or inf), got {nan} NaN and {int((~torch.isfinite(value)).sum()) - nan} "
            f"inf entries in shape {tuple(value.shape)}"
        )
    return value


def check_int(name: str, value: object, minimum: int) -> int:
    """Return ``value`` after checking it is an int (not a bool) with ``value >= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int >= {minimum}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return value


def check_labels(name: str, labels: object, num_classes: int, batch: int | None = None) -> Tensor:
    """Check integer class labels ``[B]`` with ``B >= 1`` (``== batch`` if given), entries in ``[0, num_classes)``.

    Any integer dtype is accepted (uint8, int32, ...); the labels are returned as int64.
    """
    if not isinstance(labels, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of integer class labels [B], got {type(labels).__name__}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"{name} must have an integer dtype (class labels), got {labels.dtype}")
    if labels.dim() != 1:
        raise ValueError(f"{name} must be a 1-D tensor of class labels [B], got shape {tuple(labels.shape)}")
    if labels.numel() == 0:
        raise ValueError(f"{name} must hold at least one label (empty batch), got shape {tuple(labels.shape)}")
    if batch is not None and labels.shape[0] != batch:
        raise ValueError(f"{name} must hold B={batch} labels (the output's batch size), got {labels.shape[0]}")
    wanted = f"{name} must lie in [0, {num_classes - 1}] (num_classes={num_classes})"
    if torch.compiler.is_compiling():
        pass
    elif labels.device.type != "cpu":
        torch._assert_async(((labels >= 0) & (labels < num_classes)).all(), wanted)
    elif labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"{wanted}, got [{int(labels.min())}, {int(labels.max())}]")
    return labels.long()


def check_spike_output(name: str, value: object) -> Tensor:
    """Check a network output ``[T, B, C]``: floating, finite, with ``T, B, C >= 1``."""
    value = check_sequence(name, value, min_dim=3, max_dim=3)
    if value.shape[1] == 0 or value.shape[2] == 0:
        raise ValueError(f"{name} must be [T, B, C] with B >= 1 and C >= 1 (no empty batch), got {tuple(value.shape)}")
    return value


def check_real(name: str, value: object) -> float:
    """Return ``value`` as a float after checking it is a finite real number."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)


def check_same_shape(name: str, value: Tensor, ref_name: str, ref: Tensor, axes: str) -> None:
    """Check ``value`` has ``ref``'s shape; the error names the first differing axis (``axes`` labels them)."""
    if value.dim() != ref.dim():
        raise ValueError(
            f"{name} must have shape [{', '.join(axes)}] = {tuple(ref.shape)} like {ref_name}, got {tuple(value.shape)}"
        )
    for axis, label in enumerate(axes):
        if value.shape[axis] != ref.shape[axis]:
            raise ValueError(
                f"{name} must have the same {label} as {ref_name} [{', '.join(axes)}] = {tuple(ref.shape)}, "
                f"got {label}={value.shape[axis]} (shape {tuple(value.shape)})"
            )
