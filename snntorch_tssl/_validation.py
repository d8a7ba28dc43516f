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


def check_int(name: str, value: object, *, minimum: int) -> int:
    """Return ``value`` after checking it is an int (not a bool) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int >= {minimum}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return value


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
    # The test reads the data (a host sync and a data-dependent branch), so it is skipped while
    # torch.compile traces: compiled models have no graph break here.
    if not torch.compiler.is_compiling() and not torch.isfinite(value.sum()) and not torch.isfinite(value).all():
        nan = int(torch.isnan(value).sum())
        raise ValueError(
            f"{name} must be finite (no NaN or inf), got {nan} NaN and {int((~torch.isfinite(value)).sum()) - nan} "
            f"inf entries in shape {tuple(value.shape)}"
        )
    return value
