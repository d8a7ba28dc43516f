"""Pure tensor functions of the TSSL-BP rule: the single source of its math.

Everything here is stateless and works on time-first tensors ``[T, ...]``
(any number of trailing dimensions), on any device, in float32 or float64.
Both ways of using the rule call these functions: the sequence neuron
(:class:`snntorch_tssl.SynapticSequence`) and the step-mode binding to stock
snnTorch neurons (:mod:`snntorch_tssl.rules`). Equation numbers refer to the
package's specification of TSSL-BP (Zhang & Li, NeurIPS 2020).

Notation: ``u`` is the membrane before reset, ``s`` the spike, ``V`` the
threshold, ``beta = 1 - 1/tau_m`` the membrane leak.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

RESET_MECHANISMS = ("zero", "subtract", "none")


class TSSLOptions(NamedTuple):
    """Options of the TSSL-BP rule (defaults: the paper's values)."""

    tau_s: float = 3.0
    max_inv_du: float = 8.0
    warmup: bool = True
    warmup_width: float = 0.2
    reset_term: bool = True


# --------------------------------------------------------------------------
# The normalised first-order synapse (PSC) filter and its transpose.
# --------------------------------------------------------------------------


def exponential_scan(x: Tensor, decay: Tensor | float, reverse: bool = False) -> Tensor:
    r"""Normalised first-order filter along dim 0, without autograd, O(T).

    .. math:: y[t] = d\, y[t \mp 1] + (1 - d)\, x[t], \qquad y[\mp 1] = 0

    run forwards (causal) or, with ``reverse=True``, backwards in time.
    ``decay`` may be a float or a tensor broadcastable to ``x[0]``.
    """
    out = torch.empty_like(x)
    state = torch.zeros_like(x[0])
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    for t in steps:
        state = state * decay + x[t] * (1.0 - decay)
        out[t] = state
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
    def forward(ctx, x: Tensor, decay: Tensor | float) -> Tensor:
        ctx.decay = decay
        return exponential_scan(x, decay)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return exponential_scan(grad, ctx.decay, reverse=True), None


def exponential_filter(x: Tensor, decay: Tensor | float) -> Tensor:
    r"""Differentiable :func:`exponential_scan` (causal); its backward is the reverse scan.

    The decay is treated as a constant (it gets no gradient).
    """
    return _ExponentialFilter.apply(x, decay)


def psc_filter(x: Tensor, tau_s: float) -> Tensor:
    r"""Differentiable normalised PSC filter along dim 0 (time), O(T).

    .. math:: a[t] = a[t-1] + \frac{x[t] - a[t-1]}{\tau_s}

    Its backward is the transposed filter (:func:`psc_filter_transpose`),
    so no ``T x T`` matrix is ever built.
    """
    return exponential_filter(x, 1.0 - 1.0 / tau_s)


# --------------------------------------------------------------------------
# The neuron of the paper (section 1), generalised to three resets.
# --------------------------------------------------------------------------


def reset_removed(mem: Tensor, spike: Tensor, threshold: Tensor | float, reset_mechanism: str) -> Tensor:
    r"""What the reset takes out of the membrane, :math:`\rho = u - \hat u`.

    ``u * s`` for "zero", ``V * s`` for "subtract", 0 for "none".
    """
    if reset_mechanism == "zero":
        return mem * spike
    if reset_mechanism == "subtract":
        return spike * threshold
    return torch.zeros_like(mem)


def reset_derivative(spike: Tensor, reset_mechanism: str) -> Tensor | float:
    r"""Derivative of the (detached) reset, :math:`\partial \hat u / \partial u`.

    ``1 - s`` for "zero", 1 for "subtract" and "none".
    """
    if reset_mechanism == "zero":
        return 1.0 - spike
    return 1.0


def lif_sequence_forward(
    current: Tensor, beta: Tensor | float, threshold: Tensor | float, reset_mechanism: str
) -> tuple[Tensor, Tensor]:
    r"""Run the LIF neuron over a time-first current sequence, without autograd.

    .. math::
        u[t] = \beta\, \hat u[t-1] + I[t], \quad
        s[t] = \mathbb{1}[u[t] > V], \quad
        \hat u[t] = u[t] - \rho[t]

    :return: ``(mem, spike)``: the membrane before reset :math:`u` and the
        spikes (0/1 in the current's dtype), both shaped like ``current``.
    """
    mem = torch.empty_like(current)
    spike = torch.empty_like(current)
    mem_after_reset = torch.zeros_like(current[0])
    for t in range(current.shape[0]):
        u = mem_after_reset * beta + current[t]
        s = (u > threshold).to(current.dtype)
        mem[t] = u
        spike[t] = s
        mem_after_reset = u - reset_removed(u, s, threshold, reset_mechanism)
    return mem, spike


def mem_increment(mem: Tensor, spike: Tensor, threshold: Tensor | float, reset_mechanism: str) -> Tensor:
    r"""Membrane increment :math:`\Delta u[t] = u[t] - \hat u[t-1]` (:math:`\hat u[-1] = 0`)."""
    after_reset = mem - reset_removed(mem, spike, threshold, reset_mechanism)
    previous = torch.cat([torch.zeros_like(mem[:1]), after_reset[:-1]])
    return mem - previous


# --------------------------------------------------------------------------
# The TSSL-BP backward (sections 2 and 3).
# --------------------------------------------------------------------------


def timing_factor(spike: Tensor, increment: Tensor, max_inv_du: float) -> Tensor:
    r"""Inter-neuron timing term :math:`m = s \min(1/\Delta u, m_{max})`, 0 where :math:`\Delta u \le 0`."""
    inverse = torch.clamp(increment.reciprocal(), max=max_inv_du)
    return torch.where(increment > 0, inverse, torch.zeros_like(increment)) * spike


def recursion_coefficient(
    spike: Tensor,
    timing: Tensor,
    beta: Tensor | float,
    removed: Tensor,
    reset_grad: Tensor | float,
    reset_term: bool,
) -> Tensor:
    r"""Coefficient :math:`c` of :math:`G[t] = m[t] g_s[t] + c[t] G[t+1]`.

    .. math:: c[t] = \beta\, \frac{\partial \hat u[t]}{\partial u[t]}
              + s[t]\, m[t]\, (1 - \beta)\, \rho[t]

    The second (intra-neuron, reset) term is dropped when ``reset_term`` is
    False. For the "zero" reset this is the paper's recursion exactly.
    """
    coefficient = beta * reset_grad + torch.zeros_like(timing)
    if reset_term:
        coefficient = coefficient + spike * timing * (1.0 - beta) * removed
    return coefficient


def warmup_surrogate(mem_shift: Tensor, width: float) -> Tensor:
    r"""Warm-up spike derivative, a logistic density of width :math:`w`.

    .. math:: \sigma'(u) = \frac{e^z}{w (1 + e^z)^2}, \qquad z = \mathrm{clip}\Big(\frac{u - V}{w}, -8, 8\Big)
    """
    z = torch.clamp(mem_shift / width, -8.0, 8.0)
    return torch.sigmoid(z) * torch.sigmoid(-z) / width


def warmup_mask(psc: Tensor, tau_s: float) -> Tensor:
    r"""Steps that take the warm-up value: :math:`a[t] < 1 / (4 \tau_s)`."""
    return psc < 0.25 / tau_s


def tssl_recursion(drive: Tensor, coefficient: Tensor) -> Tensor:
    r"""Solve :math:`G[t] = b[t] + c[t]\, G[t+1]`, :math:`G[T] = 0`, in one reverse pass."""
    out = torch.empty_like(drive)
    state = torch.zeros_like(drive[0])
    for t in range(drive.shape[0] - 1, -1, -1):
        state = drive[t] + coefficient[t] * state
        out[t] = state
    return out


def tssl_sequence_backward(
    grad_spike: Tensor,
    mem: Tensor,
    spike: Tensor,
    beta: Tensor | float,
    threshold: Tensor | float,
    reset_mechanism: str,
    options: TSSLOptions,
    grad_mem_after_reset: Tensor | None = None,
) -> Tensor:
    r"""TSSL-BP gradient of the loss with respect to the input current, O(T).

    .. math::
        G[t] &= m[t]\, g_s[t] + c[t]\, G[t+1], \qquad G[T] = 0 \\
        \frac{\partial L}{\partial I[t]} &= \begin{cases}
            \sigma'(u[t])\, g_s[t] & a[t] < 1/(4\tau_s) \text{ (warm-up)} \\
            G[t] & \text{otherwise}\end{cases}

    with :math:`m` from :func:`timing_factor`, :math:`c` from
    :func:`recursion_coefficient` and :math:`a` the neuron's own output PSC
    (rule's :math:`\tau_s`). A gradient on the membrane after reset, when
    given, enters :math:`G` (and the warm-up value) through
    :math:`\partial \hat u / \partial u`.

    :param grad_spike: :math:`g_s = \partial L / \partial s`, ``[T, ...]``
    :param mem: membrane before reset :math:`u`, ``[T, ...]``
    :param spike: spikes :math:`s` (0/1), ``[T, ...]``
    :return: :math:`\partial L / \partial I`, ``[T, ...]``
    """
    removed = reset_removed(mem, spike, threshold, reset_mechanism)
    reset_grad = reset_derivative(spike, reset_mechanism)
    increment = mem_increment(mem, spike, threshold, reset_mechanism)
    timing = timing_factor(spike, increment, options.max_inv_du)
    coefficient = recursion_coefficient(spike, timing, beta, removed, reset_grad, options.reset_term)
    direct = torch.zeros_like(mem) if grad_mem_after_reset is None else grad_mem_after_reset * reset_grad
    grad_current = tssl_recursion(timing * grad_spike + direct, coefficient)
    if options.warmup:
        warm = warmup_mask(psc_filter_forward(spike, options.tau_s), options.tau_s)
        warm_value = warmup_surrogate(mem - threshold, options.warmup_width) * grad_spike + direct
        grad_current = torch.where(warm, warm_value, grad_current)
    return grad_current


# --------------------------------------------------------------------------
# One time step of the rule (step mode inside stock snnTorch neurons).
# --------------------------------------------------------------------------


def psc_step(psc: Tensor, spike: Tensor, tau_s: float) -> Tensor:
    r"""One step of :func:`psc_filter_forward`: :math:`a[t] = a[t-1] + (s[t] - a[t-1]) / \tau_s`."""
    decay = 1.0 - 1.0 / tau_s
    return psc * decay + spike * (1.0 - decay)


def tssl_step_backward(
    grad_spike: Tensor | None,
    grad_next: Tensor | None,
    direct: Tensor,
    timing: Tensor,
    coefficient: Tensor,
    warm: Tensor | None,
    surrogate: Tensor | None,
) -> tuple[Tensor, Tensor]:
    r"""One reverse step of :func:`tssl_sequence_backward`.

    .. math::
        G[t] = m[t]\, g_s[t] + d[t] + c[t]\, G[t+1], \qquad
        \frac{\partial L}{\partial I[t]} = \begin{cases}
            \sigma'(u[t])\, g_s[t] + d[t] & \text{warm-up step} \\ G[t] & \text{otherwise}\end{cases}

    ``None`` stands for a zero :math:`g_s[t]` or :math:`G[t+1]`; :math:`d` is
    a gradient that reaches the membrane directly (for example a membrane
    loss); ``warm`` is None when warm-up is off.

    :return: ``(dL/dI[t], G[t])``
    """
    recursion = direct if grad_spike is None else timing * grad_spike + direct
    if grad_next is not None:
        recursion = recursion + coefficient * grad_next
    if warm is None:
        return recursion, recursion
    warm_value = direct if grad_spike is None else surrogate * grad_spike + direct
    return torch.where(warm, warm_value, recursion), recursion


def tssl_spike_derivative(timing: Tensor, warm: Tensor | None, surrogate: Tensor | None) -> Tensor:
    r"""What the rule uses in place of :math:`\partial s / \partial u` at one step.

    The warm-up surrogate :math:`\sigma'` on warm-up steps, else the timing term :math:`m`.
    """
    return timing if warm is None else torch.where(warm, surrogate, timing)
