"""The normalised first-order synapse (PSC) filter, its transpose, and the exponential scans behind them."""

from __future__ import annotations

import torch
from torch import Tensor

from snntorch_tssl._math.tiling import scalar_like


def scan_in_place(out: Tensor, decay: Tensor, carry: Tensor | None, reverse: bool) -> Tensor:
    r"""Add the carried state along dim 0 in place, :math:`y[t] \mathrel{+}= d\, y[t \mp 1]`, starting from
    ``carry`` (the state just outside ``out``; None for 0). One multiply and one add per step (no fused
    multiply-add, so results are bit-identical to the textbook recursion). Returns the last state written."""
    steps = range(out.shape[0] - 1, -1, -1) if reverse else range(out.shape[0])
    product = torch.empty_like(out[0])
    for t in steps:
        if carry is not None:
            torch.mul(carry, decay, out=product)
            out[t].add_(product)
        carry = out[t]
    return carry


def synapse_transpose_in_place(grad: Tensor, decay: Tensor, gain: Tensor, carry: Tensor | None) -> Tensor:
    r"""The synapse :math:`I[t] = \alpha I[t-1] + (1 - \alpha) X[t]` transposed over a tile, in place: ``grad``
    holds :math:`\partial L / \partial I` reaching each step directly and becomes :math:`g_X[t] = (1 - \alpha)\,
    g_I[t]` with :math:`g_I[t] = \partial L / \partial I[t] + \alpha\, g_I[t+1]`, starting from ``carry``
    :math:`g_I` of the step after the tile (None for 0). Returns :math:`g_I` of the tile's first step (the
    next carry; :math:`\alpha g_I[0]` is the gradient of the synapse's initial current)."""
    carry = scan_in_place(grad, decay, carry, reverse=True).clone()
    grad.mul_(gain)
    return carry


def exponential_scan(x: Tensor, decay: Tensor | float, reverse: bool = False, initial: Tensor | None = None) -> Tensor:
    r"""Normalised first-order filter along dim 0, without autograd, O(T).

    .. math:: y[t] = d\, y[t \mp 1] + (1 - d)\, x[t], \qquad y[\mp 1] = y_0

    run forwards (causal) or, with ``reverse=True``, backwards in time, from
    ``initial`` :math:`y_0` (shaped like ``x[0]``; None for 0).
    ``decay`` may be a float or a tensor broadcastable to ``x[0]``. The input
    term :math:`(1 - d) x` is computed for all steps at once; the loop over
    time does one multiply and one in-place add per step.
    """
    out = x * (1.0 - decay)
    scan_in_place(out, scalar_like(decay, out), initial, reverse)
    return out


def psc_filter_forward(x: Tensor, tau_s: float) -> Tensor:
    r"""Causal normalised exponential filter along time, without autograd.

    .. math:: a[t] = a[t-1] + \frac{x[t] - a[t-1]}{\tau_s}, \qquad a[-1] = 0,

    i.e. :math:`a = \kappa * x` with :math:`\kappa[k] = \frac{1}{\tau_s}(1 - \frac{1}{\tau_s})^k`.
    """
    return exponential_scan(x, 1.0 - 1.0 / tau_s)


def psc_filter_transpose(grad: Tensor, tau_s: float) -> Tensor:
    r"""Transpose (adjoint) of :func:`psc_filter_forward` along time.

    .. math:: g_x[t] = \sum_{k \ge 0} \kappa[k]\, g_a[t+k]
              = \frac{g_a[t]}{\tau_s} + \Big(1 - \frac{1}{\tau_s}\Big) g_x[t+1].
    """
    return exponential_scan(grad, 1.0 - 1.0 / tau_s, reverse=True)


class _ExponentialFilter(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, decay: Tensor | float, initial: Tensor | None) -> Tensor:
        ctx.decay = decay
        return exponential_scan(x, decay, initial=initial)

    @staticmethod
    def backward(ctx, grad: Tensor):
        if not ctx.needs_input_grad[2]:
            return exponential_scan(grad, ctx.decay, reverse=True), None, None
        grad_input = grad.clone()
        decay = scalar_like(ctx.decay, grad_input)
        carry = synapse_transpose_in_place(grad_input, decay, scalar_like(1.0 - ctx.decay, grad_input), None)
        return grad_input, None, carry * decay


def exponential_filter(x: Tensor, decay: Tensor | float, initial: Tensor | None = None) -> Tensor:
    r"""Differentiable :func:`exponential_scan` (causal) from ``initial`` :math:`y_0` (None for 0).

    Its backward is the reverse scan; :math:`y_0` gets :math:`d\, g[0]` with
    :math:`g[t] = \partial L / \partial y[t] + d\, g[t+1]`.

    The decay is treated as a constant (it gets no gradient).
    """
    return _ExponentialFilter.apply(x, decay, initial)


def psc_filter(x: Tensor, tau_s: float) -> Tensor:
    r"""Differentiable normalised PSC filter along dim 0 (time), O(T).

    .. math:: a[t] = a[t-1] + \frac{x[t] - a[t-1]}{\tau_s}

    Its backward is the transposed filter (:func:`psc_filter_transpose`),
    so no ``T x T`` matrix is ever built.
    """
    return exponential_filter(x, 1.0 - 1.0 / tau_s)
