"""Spike-sequence targets: what each output neuron should emit for a class label."""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from snntorch_tssl._validation import check_choice, check_finite, check_int, check_labels

PATTERNS = ("tssl", "tssl-paper", "regular", "silent")

# The authors' current targets: one period, repeated; chosen by the number of steps.
_TSSL_SHORT = (0.0, 1.0, 1.0, 1.0, 1.0)  # T < 10
_TSSL_LONG = (0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0)  # T >= 10
_TSSL_PAPER = (0.0, 1.0, 0.0, 1.0, 1.0)  # the paper's T = 5 target


def regular_pattern(num_steps: int, num_spikes: int, first_spike: int = 0) -> Tensor:
    r"""``num_spikes`` evenly spaced spikes in ``[first_spike, num_steps)``.

    .. math:: t_k = t_0 + \left\lfloor \frac{k\,(T - t_0)}{n} \right\rfloor, \qquad k = 0, \dots, n - 1

    :param num_steps: number of time steps :math:`T`
    :param num_spikes: number of spikes :math:`n`, ``0 <= n <= T - t_0`` (0 gives a silent train)
    :param first_spike: time of the first spike :math:`t_0`, ``0 <= t_0 < T``
    :return: a 0/1 float tensor ``[T]``

    Example::

        from snntorch_tssl.spikegen import regular_pattern

        regular_pattern(10, 3, first_spike=1)  # spikes at t = 1, 4, 7
    """
    check_int("num_steps", num_steps, 1)
    check_int("first_spike", first_spike, 0)
    if first_spike >= num_steps:
        raise ValueError(f"first_spike must be < num_steps={num_steps}, got {first_spike}")
    check_int("num_spikes", num_spikes, 0)
    if num_spikes > num_steps - first_spike:
        raise ValueError(
            f"num_spikes must be <= num_steps - first_spike = {num_steps - first_spike} "
            f"(one spike per step at most), got {num_spikes}"
        )
    pattern = torch.zeros(num_steps)
    times = [first_spike + (k * (num_steps - first_spike)) // num_spikes for k in range(num_spikes)]
    pattern[times] = 1.0
    return pattern


def _tile(period: Tensor, num_steps: int, name: str) -> Tensor:
    """Repeat a user ``period`` and cut it to ``num_steps`` (the last period may be partial)."""
    if period.dim() != 1 or period.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-D tensor [L], got shape {tuple(period.shape)}")
    if period.numel() > num_steps:
        raise ValueError(f"{name} must not be longer than num_steps={num_steps}, got length {period.numel()}")
    check_finite(name, period)
    repeats = -(-num_steps // period.numel())
    return period.repeat(repeats)[:num_steps]


def _resolve(name: str, pattern: str | Tensor, num_steps: int, num_spikes: int | None, first_spike: int) -> Tensor:
    """The length-``num_steps`` train of one named or user pattern."""
    if isinstance(pattern, Tensor):
        return _tile(pattern.detach(), num_steps, name)
    if not isinstance(pattern, str):
        raise TypeError(f"{name} must be one of {PATTERNS} or a 1-D tensor, got {type(pattern).__name__}")
    check_choice(name, pattern, PATTERNS)
    if pattern in ("tssl", "tssl-paper"):
        period = _TSSL_PAPER if pattern == "tssl-paper" else _TSSL_SHORT if num_steps < 10 else _TSSL_LONG
        return torch.tensor(period * -(-num_steps // len(period)))[:num_steps]
    if pattern == "regular":
        if num_spikes is None:
            raise ValueError(f"{name}='regular' needs the number of spikes: pass num_spikes (an int >= 0)")
        return regular_pattern(num_steps, num_spikes, first_spike)
    return torch.zeros(num_steps)


def targets_spike_sequence(
    labels: Tensor,
    num_classes: int,
    num_steps: int,
    pattern: str | Tensor = "tssl",
    *,
    num_spikes: int | None = None,
    first_spike: int = 0,
    off_pattern: str | Tensor = "silent",
    off_num_spikes: int | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    r"""Turn class labels into target spike trains ``[T, B, C]`` for spike-sequence losses.

    The neuron of the label fires ``pattern``; every other neuron fires
    ``off_pattern`` (silent by default):

    .. math::
        S^{target}[t, b, c] = \begin{cases} p[t] & c = y_b \\ q[t] & c \neq y_b \end{cases}

    Patterns :math:`p, q`:

    - ``"tssl"``: the TSSL-BP authors' current target, the period
      ``[0, 1, 1, 1, 1]`` when ``num_steps < 10`` and
      ``[0, 1, 0, 1, 0, 1, 0, 1, 0, 1]`` when ``num_steps >= 10``;
    - ``"tssl-paper"``: the paper's ``T = 5`` target ``[0, 1, 0, 1, 1]``;
    - ``"regular"``: ``num_spikes`` evenly spaced spikes from ``first_spike``
      on (:func:`regular_pattern`); as ``off_pattern`` it uses
      ``off_num_spikes``, which gives the other neurons a low rate;
    - ``"silent"``: no spike;
    - a 1-D tensor: any user period (graded values allowed).

    When ``num_steps`` is not a multiple of a period's length :math:`L`, the
    period is repeated and cut: :math:`p[t] = \text{period}[t \bmod L]`, so the
    last period is partial (``"tssl"`` at ``T = 7`` is ``[0,1,1,1,1,0,1]``;
    at ``T = 3`` it is ``[0,1,1]``). A user tensor longer than ``num_steps``
    is an error.

    :param labels: integer class labels ``[B]`` in ``[0, num_classes)`` (any integer dtype)
    :param num_classes: number of output neurons :math:`C`
    :param num_steps: number of time steps :math:`T`
    :param pattern: the label neuron's pattern (name or 1-D tensor)
    :param num_spikes: spike count of ``pattern="regular"``
    :param first_spike: first spike time of the ``"regular"`` patterns
    :param off_pattern: the other neurons' pattern (name or 1-D tensor)
    :param off_num_spikes: spike count of ``off_pattern="regular"``
    :param dtype: floating dtype of the result (default: torch's default dtype)
    :return: target spike trains ``[T, B, C]`` on the labels' device

    Example::

        import torch
        from snntorch_tssl.spikegen import targets_spike_sequence

        target = targets_spike_sequence(torch.tensor([2, 0]), num_classes=3, num_steps=5)
        target[:, 0, 2]  # tensor([0., 1., 1., 1., 1.])
    """
    check_int("num_classes", num_classes, 1)
    check_int("num_steps", num_steps, 1)
    labels = check_labels("labels", labels, num_classes)
    dtype = torch.get_default_dtype() if dtype is None else dtype
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    on = _resolve("pattern", pattern, num_steps, num_spikes, first_spike)
    off = _resolve("off_pattern", off_pattern, num_steps, off_num_spikes, first_spike)
    if on.device.type == off.device.type == "cpu" and torch.equal(on.float(), off.float()):  # no device read
        warnings.warn(
            f"pattern {_describe(pattern)} at num_steps={num_steps} gives the label neuron the target "
            f"{on.tolist()}, the same as the other neurons' ({_describe(off_pattern)}): the loss has nothing to "
            f"learn; use more steps or another pattern",
            UserWarning,
            stacklevel=2,
        )
    # non_blocking: a host-to-device copy that never waits for the device (the patterns are fresh CPU tensors)
    on, off = (p.to(device=labels.device, dtype=dtype, non_blocking=True) for p in (on, off))
    is_label = labels[:, None] == torch.arange(num_classes, device=labels.device)  # [B, C]
    return torch.where(is_label, on[:, None, None], off[:, None, None])


def _describe(pattern: str | Tensor) -> str:
    return repr(pattern) if isinstance(pattern, str) else "a user tensor"
