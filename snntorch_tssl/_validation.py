"""Input checks shared by the public API.

Each check raises a ``TypeError`` or ``ValueError`` whose message names the
argument, what was expected and what was received.
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


def check_in_range(name: str, value: object, low: float, high: float) -> float:
    """Return ``value`` as a float after checking ``low < value < high``."""
    if isinstance(value, bool) or not isinstance(value, (Real, Tensor)):
        raise TypeError(f"{name} must be a real number in ({low}, {high}), got {type(value).__name__} {value!r}")
    value = float(value.item() if isinstance(value, Tensor) else value)
    if not low < value < high:
        raise ValueError(f"{name} must lie in ({low}, {high}), got {value}")
    return value


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` after checking it is a bool."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return value


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """Return ``value`` after checking it is one of ``choices``."""
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
    # One reduction instead of an element-wise mask: a finite sum proves every entry finite; only a
    # non-finite sum (a NaN/inf entry, or an overflowing sum of finite ones) needs the exact check.
    if not torch.isfinite(value.sum()) and not torch.isfinite(value).all():
        raise ValueError(f"{name} contains NaN or inf values")
    return value
