"""The TSSL-BP backward (sections 2 and 3 of the specification): sequence and single-step forms."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from snntorch_tssl._math.filters import psc_filter_forward, synapse_transpose_in_place
from snntorch_tssl._math.lif import StateGradients, reset_derivative, reset_removed, step_function
from snntorch_tssl._math.tiling import add_at_last_step, as_matrix, as_vector, per_neuron, scalar_like, split_tiles


class TSSLOptions(NamedTuple):
    """Options of the TSSL-BP rule (defaults: the paper's values).

    ``tau_s`` and ``warmup_width`` are None in a rule built without them (the neuron decides); the
    functions of this package that take options need them resolved to numbers.
    """

    tau_s: float | None = 3.0
    max_inv_du: float = 8.0
    warmup: bool = True
    warmup_width: float | None = 0.2
    reset_term: bool = True
    warmup_keeps_timing: bool = False


def timing_factor(spike: Tensor, mem: Tensor, previous: Tensor, threshold: Tensor | float, max_inv_du: float) -> Tensor:
    r"""Inter-neuron timing term of a spike whose threshold crossing lies within its step.

    .. math:: m[t] = s[t]\, \mathbb{1}[\hat u[t-1] \le V]\, \min(1/\Delta u[t], m_{max}),
              \qquad \Delta u[t] = u[t] - \hat u[t-1],

    0 where :math:`\Delta u \le 0`. A membrane that is still above threshold after the previous
    step's reset (:math:`\hat u[t-1] > V`: a subtract reset that left more than :math:`V`, or no
    reset) crossed before the step began; its spike is pinned to the step and a small change of
    the membrane does not move it, so its timing term is 0. After a hard reset, and before a
    neuron's first spike, :math:`\hat u[t-1] \le V` always holds: the paper's network is unchanged.

    With ``max_inv_du=inf`` the cap is the dtype's largest finite value, so silent steps stay
    exactly 0 (never ``inf * 0 = NaN``).
    """
    increment = mem - previous
    if math.isinf(max_inv_du):
        max_inv_du = torch.finfo(increment.dtype).max
    inverse = increment.reciprocal().clamp_(min=0.0, max=max_inv_du)
    return inverse.mul_(step_function(increment)).mul_(spike).mul_(torch.le(previous, threshold))


def recursion_coefficient(
    timing: Tensor,
    beta: Tensor | float,
    removed: Tensor,
    reset_grad: Tensor | float,
    reset_term: bool,
    reset_mechanism: str,
) -> Tensor:
    r"""Coefficient :math:`c` of :math:`G[t] = m[t] g_s[t] + c[t] G[t+1]`.

    .. math:: c[t] = \beta\, \frac{\partial \hat u[t]}{\partial u[t]}
              + s[t]\, m[t]\, (1 - \beta)\, \rho[t]
              \quad (\text{at most 1 for the "subtract" reset})

    The second (intra-neuron, reset) term is dropped when ``reset_term`` is
    False. For the "zero" reset this is the paper's recursion exactly. With
    the "subtract" reset the leak path :math:`\beta` is intact and
    :math:`c = \beta + (1 - \beta) V m`; the non-leaky neuron
    (:math:`\beta = 1`) has :math:`c = 1` for every :math:`m`, and a leak can
    only shrink what a spike's shift carries forward, so :math:`c \le 1`.
    The timing term :math:`m` (:func:`timing_factor`) is 0 wherever :math:`s`
    is, so :math:`s\, m = m` is used. The result has ``timing``'s shape (a
    broadcast view when it is constant).
    """
    coefficient = scalar_like(beta * reset_grad, timing)
    if not reset_term:
        return coefficient.expand_as(timing)
    coefficient = torch.addcmul(coefficient, timing, removed * (1.0 - beta))
    return coefficient.clamp_(max=1.0) if reset_mechanism == "subtract" else coefficient


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
    initial_mem: Tensor | None = None,
    grad_final: StateGradients | None = None,
    return_state_grads: bool = False,
) -> Tensor | tuple[Tensor, StateGradients]:
    r"""TSSL-BP gradient of the loss with respect to the input current, O(T).

    .. math::
        G[t] &= m[t]\, g_s[t] + c[t]\, G[t+1], \qquad G[T] = 0 \\
        \frac{\partial L}{\partial I[t]} &= \begin{cases}
            \sigma'(u[t])\, g_s[t] & a[t] < 1/(4\tau_s) \text{ (warm-up)} \\
            G[t] & \text{otherwise}\end{cases}

    with :math:`m` from :func:`timing_factor`, :math:`c` from
    :func:`recursion_coefficient` and :math:`a` the neuron's own output PSC
    (rule's :math:`\tau_s`).

    A gradient :math:`\hat g` on the membrane after reset (a membrane loss),
    when given, is a second stream beside the spike-timing one: plain
    backpropagation through the leak, with the reset's derivative
    :math:`\partial \hat u / \partial u` and the spikes held constant,

    .. math::
        H[t] = \frac{\partial \hat u[t]}{\partial u[t]} \big(\hat g[t] + \beta H[t+1]\big),
        \qquad H[T] = 0,

    added to the result; warm-up and the reset term act on the timing stream
    only. ``grad_current``, a gradient that reaches :math:`I` directly, is
    added too.

    ``beta`` and ``threshold`` are scalars or tensors broadcastable to one
    step ``mem[0]`` (per-neuron constants).

    With ``synapse_decay`` :math:`\alpha` (the synapse of
    :func:`lif_sequence_scan`), the result is the gradient with respect to the
    synapse's input :math:`X` instead, through the transposed filter computed in
    the same pass: :math:`g_I[t] = \partial L / \partial I[t] + \alpha\, g_I[t+1]`,
    :math:`g_X[t] = (1 - \alpha)\, g_I[t]`.

    A sequence that continues another one (truncated backpropagation through time over chunks)
    starts from ``initial_mem`` :math:`\hat u[-1]` (the membrane after reset where the other one
    ended; else 0), and ``grad_final`` (:class:`~snntorch_tssl._math.lif.StateGradients`) brings the
    gradients from the chunk after it: on the final synaptic current (added to
    ``grad_current`` at the last step), on the final membrane after reset (added to
    :math:`\hat g` at the last step) and :math:`G[T]`. With ``return_state_grads`` the result is
    ``(grad_input, StateGradients)``, the gradients at the initial state: :math:`\alpha g_I[0]`,
    :math:`\beta H[0]` and :math:`G[0]`. Chained chunks so give the gradients of the whole
    sequence.

    The sequence is processed in tiles of about :data:`~snntorch_tssl._math.tiling.CHUNK_ELEMENTS`
    elements (blocks of neurons times chunks of time, last chunk first; see
    :func:`~snntorch_tssl._math.tiling.split_tiles`): the element-wise terms are computed for a whole tile at
    once and only the recursions step through time, so every temporary is
    one tile large and the cost is one pass over T.

    :param grad_spike: :math:`g_s = \partial L / \partial s`, ``[T, ...]``
    :param mem: membrane before reset :math:`u`, ``[T, ...]``
    :param spike: spikes :math:`s` (0/1, floating or bool), ``[T, ...]``; None recomputes them
        exactly as :math:`\mathbb{1}[u > V]`, which saves storing them
    :param warm: the boolean warm-up mask (:func:`warmup_mask` of the spikes' PSC), if
        already known (for example from :func:`lif_sequence_scan`); needed when the sequence
        continues another one (the PSC starts where that one ended)
    :return: :math:`\partial L / \partial I` (or :math:`\partial L / \partial X`), ``[T, ...]``
    """
    shape = mem.shape
    mem, spike, grad_spike, grad_mem_after_reset, warm, grad_current = map(
        as_matrix, (mem, spike, grad_spike, grad_mem_after_reset, warm, grad_current)
    )
    grad_final = StateGradients() if grad_final is None else StateGradients(*map(as_vector, grad_final))
    grad_mem_after_reset = add_at_last_step(grad_mem_after_reset, grad_final.mem, mem)
    grad_current = add_at_last_step(grad_current, grad_final.syn, mem)
    initial_mem = as_vector(initial_mem)
    if return_state_grads:
        state_syn = None if synapse_decay is None else mem.new_zeros(mem.shape[1])
        state_mem, state_timing = mem.new_zeros(mem.shape[1]), mem.new_zeros(mem.shape[1])
    if options.warmup and warm is None:
        spikes = step_function(mem - threshold) if spike is None else spike.to(mem.dtype)
        warm = warmup_mask(psc_filter_forward(spikes, options.tau_s), options.tau_s)
    grad_input = mem.new_empty(mem.shape)
    beta_all, threshold_all = per_neuron(beta, mem, shape[1:]), per_neuron(threshold, mem, shape[1:])
    if synapse_decay is not None:
        alpha, gain = scalar_like(synapse_decay, mem), scalar_like(1.0 - synapse_decay, mem)
    tiling = split_tiles(mem, reverse=True)
    for block in tiling.blocks:
        beta, threshold = (value if value.dim() == 0 else value[block] for value in (beta_all, threshold_all))
        recursion_carry = None if grad_final.timing is None else grad_final.timing[block]
        membrane_carry = filter_carry = None
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
            if start == 0:
                at_rest = u.new_zeros(u[:1].shape) if initial_mem is None else initial_mem[block].unsqueeze(0)
                previous = torch.cat((at_rest, previous))
            reset_grad = reset_derivative(s, reset_mechanism)
            timing = timing_factor(s, u, previous, threshold, options.max_inv_du)
            coefficient = recursion_coefficient(timing, beta, removed, reset_grad, options.reset_term, reset_mechanism)
            result = grad_input[start:end, block]
            tssl_recursion(timing.mul_(g), coefficient, recursion_carry, out=result)
            recursion_carry = result[0].clone()
            if options.warmup:
                warm_value = warmup_surrogate(u - threshold, options.warmup_width).mul_(g)
                # lerp with 0/1 weights selects exactly (no rounding): torch.where is not vectorised on CPU,
                # and bool converts to floating point several times slower than uint8 does.
                weights = torch.empty_like(u).copy_(warm[start:end, block].view(torch.uint8))
                if options.warmup_keeps_timing:
                    result.addcmul_(warm_value, weights)
                else:
                    torch.lerp(result, warm_value, weights, out=result)
            if grad_mem_after_reset is not None:  # the membrane stream H, its own recursion
                membrane = tssl_recursion(
                    grad_mem_after_reset[start:end, block] * reset_grad, beta * reset_grad, membrane_carry
                )
                membrane_carry = membrane[0]
                result.add_(membrane)
            if grad_current is not None:
                result.add_(grad_current[start:end, block])
            if synapse_decay is not None:
                filter_carry = synapse_transpose_in_place(result, alpha, gain, filter_carry)
        if return_state_grads and len(tiling.chunks) > 0:
            state_timing[block] = recursion_carry
            if membrane_carry is not None:
                state_mem[block] = membrane_carry * beta
            if synapse_decay is not None:
                state_syn[block] = filter_carry * alpha
    grad_input = grad_input.view(shape)
    if not return_state_grads:
        return grad_input
    return grad_input, StateGradients(
        *(None if value is None else value.view(shape[1:]) for value in (state_syn, state_mem, state_timing))
    )


def tssl_step_backward(
    grad_spike: Tensor | None,
    grad_next: Tensor | None,
    membrane: Tensor | None,
    mem: Tensor,
    previous: Tensor,
    spike: Tensor,
    warm: Tensor | None,
    leak: Tensor | float,
    threshold: Tensor | float,
    reset_mechanism: str,
    options: TSSLOptions,
) -> tuple[Tensor | None, Tensor | None, Tensor]:
    r"""One reverse step of the TSSL-BP backward inside a stock neuron (section 3 of the specification).

    .. math::
        G[t] &= m[t]\, g_s[t] + c[t]\, G[t+1], \qquad
        m[t] = s[t] \min(1 / (u[t] - \hat u[t-1]), m_{max}), \\
        c[t] &= \ell\, \frac{\partial \hat u[t]}{\partial u[t]} + s[t]\, m[t]\, (1 - \ell)\, \rho[t], \\
        \frac{\partial L}{\partial I[t]} &= H[t] + \begin{cases}
            \sigma'(u[t] - V)\, g_s[t] & \text{warm-up step} \\ G[t] & \text{otherwise}\end{cases}

    with :math:`\ell` the membrane's leak, :math:`\rho` what the reset removes and :math:`H[t]` the
    membrane stream (the gradient that reaches the membrane itself, e.g. from a membrane loss,
    already carried back through the leak). ``None`` stands for a zero :math:`g_s[t]`,
    :math:`G[t+1]` or :math:`H[t]`. ``warm`` is the 0/1 warm-up mask (None: warm-up off);
    with ``options.warmup_keeps_timing`` a warm-up step gets :math:`G[t]` plus the warm-up value
    instead of the warm-up value alone.

    :param previous: the membrane after reset of the step before, :math:`\hat u[t-1]`
    :return: ``(dL/dI[t], G[t], d)``: ``d`` is what the rule uses for :math:`\partial s / \partial u`
        at this step (:math:`\sigma'` on warm-up steps, else :math:`m`); ``dL/dI`` and ``G`` are None
        when every gradient is
    """
    timing = timing_factor(spike, mem, previous, threshold, options.max_inv_du)
    recursion = None if grad_spike is None else timing * grad_spike
    if grad_next is not None:
        removed = reset_removed(mem, spike, threshold, reset_mechanism)
        coefficient = recursion_coefficient(
            timing, leak, removed, reset_derivative(spike, reset_mechanism), options.reset_term, reset_mechanism
        )
        recursion = coefficient * grad_next if recursion is None else torch.addcmul(recursion, coefficient, grad_next)
    derivative = timing
    result = recursion
    if warm is not None:
        surrogate = warmup_surrogate(mem - threshold, options.warmup_width)
        derivative = torch.lerp(timing, surrogate, warm)
        if grad_spike is not None or recursion is not None:
            warm_value = surrogate * grad_spike if grad_spike is not None else torch.zeros_like(mem)
            if recursion is None:
                result = warm * warm_value
            elif options.warmup_keeps_timing:
                result = torch.addcmul(recursion, warm, warm_value)
            else:
                result = torch.lerp(recursion, warm_value, warm)
    if membrane is not None:
        result = membrane if result is None else result + membrane
    return result, recursion, derivative
