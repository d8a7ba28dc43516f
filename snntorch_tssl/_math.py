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

import math
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


def _scalar(value: Tensor | float, like: Tensor) -> Tensor:
    """``value`` as a 0-dim tensor of ``like``'s dtype and device: in element-wise ops it is as exact as
    a Python float and faster (no wrapping on every call)."""
    return torch.as_tensor(value, dtype=like.dtype, device=like.device)


def _scan_in_place(out: Tensor, decay: Tensor, carry: Tensor | None, reverse: bool) -> Tensor:
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


def exponential_scan(x: Tensor, decay: Tensor | float, reverse: bool = False) -> Tensor:
    r"""Normalised first-order filter along dim 0, without autograd, O(T).

    .. math:: y[t] = d\, y[t \mp 1] + (1 - d)\, x[t], \qquad y[\mp 1] = 0

    run forwards (causal) or, with ``reverse=True``, backwards in time.
    ``decay`` may be a float or a tensor broadcastable to ``x[0]``. The input
    term :math:`(1 - d) x` is computed for all steps at once; the loop over
    time does one multiply and one in-place add per step.
    """
    out = x * (1.0 - decay)
    _scan_in_place(out, _scalar(decay, out), None, reverse)
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
    scan = lif_sequence_scan(current, beta, threshold, reset_mechanism)
    return scan.mem, scan.spike


class LIFScan(NamedTuple):
    """What :func:`lif_sequence_scan` returns (the optional fields are None unless asked for)."""

    mem: Tensor
    spike: Tensor
    mem_after_reset: Tensor | None
    warmup: Tensor | None
    syn: Tensor | None = None


#: Elements per tile of the sequence passes on CPU: the per-tile temporaries stay cache-sized.
CHUNK_ELEMENTS = 1 << 16
#: Elements per tile on other devices (GPUs), where fewer, larger kernels are what counts.
CHUNK_ELEMENTS_ACCELERATOR = 1 << 22


class _Tiling(NamedTuple):
    """Tiles of a time-first sequence seen as ``[T, N]``: neuron blocks times time chunks."""

    blocks: list[slice]
    chunks: list[tuple[int, int]]
    width: int
    steps: int


def _tiling(sequence: Tensor, reverse: bool = False) -> _Tiling:
    """Split ``[T, N]`` into tiles of about :data:`CHUNK_ELEMENTS` elements
    (:data:`CHUNK_ELEMENTS_ACCELERATOR` off the CPU): the neurons into blocks of about equal width,
    no wider than that, and time into chunks of ``steps`` steps (at least one), last chunk first
    with ``reverse``.

    Neurons are independent, so a pass may run block by block, and the
    state and temporaries of one block stay in cache from step to step.
    """
    total, neurons = sequence.shape[0], max(1, sequence[0].numel())
    budget = CHUNK_ELEMENTS if sequence.device.type == "cpu" else CHUNK_ELEMENTS_ACCELERATOR
    count = -(-neurons // budget)
    width = -(-neurons // count)
    steps = max(1, budget // width)
    blocks = [slice(start, min(neurons, start + width)) for start in range(0, neurons, width)]
    chunks = [(start, min(total, start + steps)) for start in range(0, total, steps)]
    return _Tiling(blocks, chunks[::-1] if reverse else chunks, width, min(steps, total))


def _as_matrix(tensor: Tensor | None) -> Tensor | None:
    """A time-first tensor as ``[T, N]`` (a view when possible)."""
    return None if tensor is None else tensor.reshape(tensor.shape[0], -1)


def lif_sequence_scan(
    current: Tensor,
    beta: Tensor | float,
    threshold: Tensor | float,
    reset_mechanism: str,
    *,
    synapse_decay: Tensor | float | None = None,
    keep_syn: bool = False,
    keep_mem_after_reset: bool = False,
    warmup_tau_s: float | None = None,
) -> LIFScan:
    r"""One fused pass over time: the LIF forward of :func:`lif_sequence_forward` and, on request,
    the synapse in front of it, the membrane after reset :math:`\hat u` and the warm-up mask of the
    neuron's own PSC.

    With ``synapse_decay`` :math:`\alpha`, ``current`` is the synapse's input :math:`X` and the
    neuron is driven by :math:`I[t] = \alpha I[t-1] + (1 - \alpha) X[t]` (kept as ``syn`` with
    ``keep_syn``). With ``warmup_tau_s`` the loop also runs the PSC filter of the spikes and stores
    :func:`warmup_mask` as booleans (one byte per element), which is all the TSSL-BP backward needs
    of it.

    Every step writes straight into preallocated ``[T, ...]`` results, so the only temporaries are
    one tile large (:func:`_tiling`). Each term is computed with the same operations as the
    textbook recursion (no fused multiply-add), so results are bit-identical to it and to stock
    snnTorch.

    :return: :class:`LIFScan` ``(mem, spike, mem_after_reset, warmup, syn)``
    """
    x = _as_matrix(current)
    mem, spike = x.new_empty(x.shape), x.new_empty(x.shape)
    after_all = x.new_empty(x.shape) if keep_mem_after_reset else None
    syn_all = x.new_empty(x.shape) if keep_syn else None
    warm = None if warmup_tau_s is None else torch.empty(x.shape, dtype=torch.bool, device=x.device)
    beta, threshold = _scalar(beta, x), _scalar(threshold, x)
    tiling = _tiling(x)
    if synapse_decay is not None:
        alpha, gain = _scalar(synapse_decay, x), _scalar(1.0 - synapse_decay, x)
        syn_tile = None if keep_syn else x.new_empty((tiling.steps, tiling.width))
    if warm is not None:
        psc_decay = 1.0 - 1.0 / warmup_tau_s
        psc_gain, psc_decay = 1.0 - psc_decay, _scalar(psc_decay, x)
        warm_below = _scalar(0.25 / warmup_tau_s, x)
        psc_tile = x.new_empty((tiling.steps, tiling.width))
    for block in tiling.blocks:
        width = block.stop - block.start
        after, after_buffer, product, syn, psc = (x.new_zeros(width) for _ in range(5))
        syn_carry, psc_carry = syn, psc  # I[t - 1] and a[t - 1] across time chunks
        for start, end in tiling.chunks:
            if synapse_decay is None:
                drive = x[start:end, block]
            else:  # (1 - alpha) X for the whole tile; the recursion adds alpha I[t - 1] per step
                drive = syn_all[start:end, block] if keep_syn else syn_tile[: end - start, :width]
                torch.mul(x[start:end, block], gain, out=drive)
            for t in range(start, end):
                i = drive[t - start]
                if synapse_decay is not None:
                    syn = i.add_(torch.mul(syn, alpha, out=product))
                u, s = mem[t, block], spike[t, block]
                torch.add(torch.mul(after, beta, out=product), i, out=u)
                torch.gt(u, threshold, out=s)  # step_function(u - V), exactly
                if reset_mechanism == "none":
                    after = u if after_all is None else after_all[t, block].copy_(u)
                else:  # u - u s or u - V s: the product is exact, so this rounds like the textbook formula
                    after = after_buffer if after_all is None else after_all[t, block]
                    torch.addcmul(u, *((u, s) if reset_mechanism == "zero" else (s, threshold)), value=-1, out=after)
                if warm is not None:
                    psc = torch.mul(psc, psc_decay, out=product)
                    psc = torch.add(psc, s, alpha=psc_gain, out=psc_tile[t - start, :width])
            if synapse_decay is not None and not keep_syn:
                syn = syn_carry.copy_(syn)  # the tile buffer is refilled next
            if warm is not None:  # warmup_mask of the tile: compare in floating point, store as bool
                psc = psc_carry.copy_(psc)
                window = psc_tile[: end - start, :width]
                warm[start:end, block].copy_(torch.lt(window, warm_below, out=window))
    shaped = (None if tensor is None else tensor.view(current.shape) for tensor in (after_all, warm, syn_all))
    return LIFScan(mem.view(current.shape), spike.view(current.shape), *shaped)


def mem_increment(mem: Tensor, spike: Tensor, threshold: Tensor | float, reset_mechanism: str) -> Tensor:
    r"""Membrane increment :math:`\Delta u[t] = u[t] - \hat u[t-1]` (:math:`\hat u[-1] = 0`)."""
    after_reset = mem - reset_removed(mem, spike, threshold, reset_mechanism)
    previous = torch.cat([torch.zeros_like(mem[:1]), after_reset[:-1]])
    return mem - previous


# --------------------------------------------------------------------------
# The TSSL-BP backward (sections 2 and 3).
# --------------------------------------------------------------------------


def step_function(x: Tensor) -> Tensor:
    r"""Heaviside step :math:`\mathbb{1}[x > 0]` as 0/1 in ``x``'s dtype (``NaN`` excluded).

    Equals ``(x > 0).to(x.dtype)`` exactly; the comparison writes straight into a floating-point
    result (a boolean intermediate and its conversion are several times slower on CPU).
    """
    return torch.gt(x, 0.0, out=torch.empty_like(x))


def timing_factor(spike: Tensor, increment: Tensor, max_inv_du: float) -> Tensor:
    r"""Inter-neuron timing term :math:`m = s \min(1/\Delta u, m_{max})`, 0 where :math:`\Delta u \le 0`.

    With ``max_inv_du=inf`` the cap is the dtype's largest finite value, so silent steps stay
    exactly 0 (never ``inf * 0 = NaN``).
    """
    if math.isinf(max_inv_du):
        max_inv_du = torch.finfo(increment.dtype).max
    inverse = increment.reciprocal().clamp_(min=0.0, max=max_inv_du)
    return inverse.mul_(step_function(increment)).mul_(spike)


def recursion_coefficient(
    timing: Tensor, beta: Tensor | float, removed: Tensor, reset_grad: Tensor | float, reset_term: bool
) -> Tensor:
    r"""Coefficient :math:`c` of :math:`G[t] = m[t] g_s[t] + c[t] G[t+1]`.

    .. math:: c[t] = \beta\, \frac{\partial \hat u[t]}{\partial u[t]}
              + s[t]\, m[t]\, (1 - \beta)\, \rho[t]

    The second (intra-neuron, reset) term is dropped when ``reset_term`` is
    False. For the "zero" reset this is the paper's recursion exactly. The
    timing term :math:`m` (:func:`timing_factor`) is 0 wherever :math:`s` is,
    so :math:`s\, m = m` is used. The result has ``timing``'s shape (a
    broadcast view when it is constant).
    """
    coefficient = _scalar(beta * reset_grad, timing)
    if reset_term:
        return torch.addcmul(coefficient, timing, removed * (1.0 - beta))
    return coefficient.expand_as(timing)


def warmup_surrogate(mem_shift: Tensor, width: float) -> Tensor:
    r"""Warm-up spike derivative, a logistic density of width :math:`w`.

    .. math:: \sigma'(u) = \frac{e^z}{w (1 + e^z)^2} = \frac{q (1 - q)}{w}, \qquad
              z = \mathrm{clip}\Big(\frac{u - V}{w}, -8, 8\Big), \quad q = \frac{1}{1 + e^{|z|}}

    The density is even in :math:`z`; taking the smaller logistic value :math:`q` keeps
    :math:`q (1 - q)` accurate to a few rounding errors everywhere with one exponential.
    """
    q = mem_shift.abs().div_(-width).clamp_(min=-8.0).sigmoid_()
    return torch.addcmul(q, q, q, value=-1).div_(width)


def warmup_mask(psc: Tensor, tau_s: float) -> Tensor:
    r"""Steps that take the warm-up value: :math:`a[t] < 1 / (4 \tau_s)`."""
    return psc < 0.25 / tau_s


def tssl_recursion(
    drive: Tensor, coefficient: Tensor, initial: Tensor | None = None, *, out: Tensor | None = None
) -> Tensor:
    r"""Solve :math:`G[t] = b[t] + c[t]\, G[t+1]` in one reverse pass, :math:`G[T]` = ``initial`` (default 0).

    ``coefficient`` has ``drive``'s shape (or broadcasts to it); ``out`` (optional) receives the
    result, shaped like ``drive``. One fused multiply-add per step.
    """
    out = torch.empty_like(drive) if out is None else out
    coefficient = coefficient.expand_as(drive)
    state = initial
    for t in range(drive.shape[0] - 1, -1, -1):
        if state is None:
            out[t].copy_(drive[t])
        else:
            torch.addcmul(drive[t], coefficient[t], state, out=out[t])
        state = out[t]
    return out


def tssl_sequence_backward(
    grad_spike: Tensor,
    mem: Tensor,
    spike: Tensor | None,
    beta: Tensor | float,
    threshold: Tensor | float,
    reset_mechanism: str,
    options: TSSLOptions,
    grad_mem_after_reset: Tensor | None = None,
    warm: Tensor | None = None,
    *,
    grad_current: Tensor | None = None,
    synapse_decay: Tensor | float | None = None,
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
    :math:`\partial \hat u / \partial u`; ``grad_current``, a gradient that
    reaches :math:`I` directly, is added to the result.

    With ``synapse_decay`` :math:`\alpha` (the synapse of
    :func:`lif_sequence_scan`), the result is the gradient with respect to the
    synapse's input :math:`X` instead, through the transposed filter
    :math:`g_X[t] = (1 - \alpha)\, g_I[t] + \alpha\, g_X[t+1]`, computed in the
    same pass.

    The sequence is processed in tiles of about :data:`CHUNK_ELEMENTS`
    elements (blocks of neurons times chunks of time, last chunk first; see
    :func:`_tiling`): the element-wise terms are computed for a whole tile at
    once and only the recursions step through time, so every temporary is
    one tile large and the cost is one pass over T.

    :param grad_spike: :math:`g_s = \partial L / \partial s`, ``[T, ...]``
    :param mem: membrane before reset :math:`u`, ``[T, ...]``
    :param spike: spikes :math:`s` (0/1, floating or bool), ``[T, ...]``; None recomputes them
        exactly as :math:`\mathbb{1}[u > V]`, which saves storing them
    :param warm: the boolean warm-up mask (:func:`warmup_mask` of the spikes' PSC), if
        already known (for example from :func:`lif_sequence_scan`)
    :return: :math:`\partial L / \partial I` (or :math:`\partial L / \partial X`), ``[T, ...]``
    """
    shape = mem.shape
    mem, spike, grad_spike, grad_mem_after_reset, warm, grad_current = map(
        _as_matrix, (mem, spike, grad_spike, grad_mem_after_reset, warm, grad_current)
    )
    if options.warmup and warm is None:
        spikes = step_function(mem - threshold) if spike is None else spike.to(mem.dtype)
        warm = warmup_mask(psc_filter_forward(spikes, options.tau_s), options.tau_s)
    grad_input = mem.new_empty(mem.shape)
    beta, threshold = _scalar(beta, mem), _scalar(threshold, mem)
    if synapse_decay is not None:
        alpha, gain = _scalar(synapse_decay, mem), _scalar(1.0 - synapse_decay, mem)
    tiling = _tiling(mem, reverse=True)
    for block in tiling.blocks:
        recursion_carry = filter_carry = None
        for start, end in tiling.chunks:
            first = max(0, start - 1)  # one step earlier: the increment needs the previous membrane after reset
            window = mem[first:end, block]
            if spike is None:
                spike_window = torch.gt(window, threshold, out=torch.empty_like(window))
            else:
                spike_window = spike[first:end, block].to(mem.dtype)
            removed_window = reset_removed(window, spike_window, threshold, reset_mechanism)
            u, s, g = mem[start:end, block], spike_window[start - first :], grad_spike[start:end, block]
            removed = removed_window[start - first :]
            previous = window[:-1] - removed_window[:-1]  # u[t-1] - rho[t-1]
            increment = u - previous if start > 0 else torch.cat((u[:1], u[1:] - previous))
            reset_grad = reset_derivative(s, reset_mechanism)
            timing = timing_factor(s, increment, options.max_inv_du)
            coefficient = recursion_coefficient(timing, beta, removed, reset_grad, options.reset_term)
            drive = timing.mul_(g)
            direct = None
            if grad_mem_after_reset is not None:
                direct = grad_mem_after_reset[start:end, block] * reset_grad
                drive = drive.add_(direct)
            result = grad_input[start:end, block]
            tssl_recursion(drive, coefficient, recursion_carry, out=result)
            recursion_carry = result[0].clone()
            if options.warmup:
                warm_value = warmup_surrogate(u - threshold, options.warmup_width).mul_(g)
                if direct is not None:
                    warm_value = warm_value.add_(direct)
                # lerp with 0/1 weights selects exactly (no rounding): torch.where is not vectorised on CPU,
                # and bool converts to floating point several times slower than uint8 does.
                weights = torch.empty_like(u).copy_(warm[start:end, block].view(torch.uint8))
                torch.lerp(result, warm_value, weights, out=result)
            if grad_current is not None:
                result.add_(grad_current[start:end, block])
            if synapse_decay is not None:
                filter_carry = _scan_in_place(result.mul_(gain), alpha, filter_carry, reverse=True)
    return grad_input.view(shape)


# --------------------------------------------------------------------------
# One time step of the rule (step mode inside stock snnTorch neurons).
# --------------------------------------------------------------------------


def psc_step(psc: Tensor, spike: Tensor, tau_s: float) -> Tensor:
    r"""One step of :func:`psc_filter_forward`: :math:`a[t] = a[t-1] + (s[t] - a[t-1]) / \tau_s`."""
    decay = 1.0 - 1.0 / tau_s
    return psc * decay + spike * (1.0 - decay)


def warmup_weight(psc: Tensor, tau_s: float) -> Tensor:
    r""":func:`warmup_mask` as 0/1 in the PSC's dtype: :math:`\mathbb{1}[a[t] < 1 / (4 \tau_s)]`."""
    return torch.sign(0.25 / tau_s - psc).clamp_(min=0)


def tssl_step_backward(
    grad_spike: Tensor | None,
    grad_next: Tensor | None,
    direct: Tensor,
    timing: Tensor,
    coefficient: Tensor,
    warm: Tensor | None,
    warm_surrogate: Tensor | None,
) -> tuple[Tensor, Tensor]:
    r"""One reverse step of :func:`tssl_sequence_backward`.

    .. math::
        G[t] = m[t]\, g_s[t] + d[t] + c[t]\, G[t+1], \qquad
        \frac{\partial L}{\partial I[t]} = \begin{cases}
            \sigma'(u[t])\, g_s[t] + d[t] & \text{warm-up step} \\ G[t] & \text{otherwise}\end{cases}

    ``None`` stands for a zero :math:`g_s[t]` or :math:`G[t+1]`; :math:`d` is
    a gradient that reaches the membrane directly (for example a membrane
    loss). ``warm`` is the 0/1 :func:`warmup_weight` and ``warm_surrogate``
    the product ``warm * sigma'``; both are None when warm-up is off. (The
    0/1 blend is exact for finite values.)

    :return: ``(dL/dI[t], G[t])``
    """
    recursion = direct if grad_spike is None else timing * grad_spike + direct
    if grad_next is not None:
        recursion = recursion + coefficient * grad_next
    if warm is None:
        return recursion, recursion
    warm_value = warm * direct if grad_spike is None else warm_surrogate * grad_spike + warm * direct
    return warm_value + (1.0 - warm) * recursion, recursion


def tssl_spike_derivative(timing: Tensor, warm: Tensor | None, warm_surrogate: Tensor | None) -> Tensor:
    r"""What the rule uses in place of :math:`\partial s / \partial u` at one step.

    The warm-up surrogate :math:`\sigma'` on warm-up steps, else the timing term :math:`m`
    (``warm``, ``warm_surrogate`` as in :func:`tssl_step_backward`).
    """
    return timing if warm is None else warm_surrogate + (1.0 - warm) * timing
