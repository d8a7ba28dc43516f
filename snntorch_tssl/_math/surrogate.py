"""Backpropagation through time of the LIF neuron with a per-step surrogate spike derivative, in one pass."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from snntorch_tssl._math.filters import synapse_transpose_in_place
from snntorch_tssl._math.lif import StateGradients
from snntorch_tssl._math.tiling import add_at_last_step, as_matrix, as_vector, per_neuron, scalar_like, split_tiles
from snntorch_tssl._math.tssl import tssl_recursion


def surrogate_sequence_backward(
    grad_spike: Tensor | None,
    mem: Tensor,
    beta: Tensor | float,
    threshold: Tensor | float,
    reset_mechanism: str,
    derivative: Callable[[Tensor], Tensor],
    grad_mem_after_reset: Tensor | None = None,
    *,
    grad_current: Tensor | None = None,
    synapse_decay: Tensor | float | None = None,
    grad_final: StateGradients | None = None,
    return_state_grads: bool = False,
) -> Tensor | tuple[Tensor, StateGradients]:
    r"""Gradient of the loss with respect to the input current of the LIF neuron stepped with a surrogate
    spike derivative :math:`\phi'` (backpropagation through time, reset not detached), O(T).

    The neuron is :math:`u[t] = \beta \hat u[t-1] + I[t]`, :math:`s[t] = \mathbb{1}[u[t] > V]` with
    :math:`\partial s / \partial u := \phi'(u - V)`, and :math:`\hat u = u - \rho` with :math:`\rho = u s`
    ("zero"), :math:`V s` ("subtract") or 0 ("none"), differentiated through the spike as snnTorch does.
    With :math:`e[t] = \partial \hat u[t] / \partial u[t]`, that is :math:`1 - s - \phi' u`, :math:`1 - \phi' V`
    or 1, the gradient at the membrane is one linear recursion:

    .. math::
        g_u[t] = \phi'[t]\, g_s[t] + e[t] \big(\hat g[t] + \beta\, g_u[t+1]\big), \qquad g_u[T] = 0,

    and :math:`\partial L / \partial I[t] = g_u[t]` plus ``grad_current``, a gradient that reaches
    :math:`I` directly. ``synapse_decay``, ``grad_final`` and ``return_state_grads`` work as in
    :func:`~snntorch_tssl._math.tssl.tssl_sequence_backward` (the state gradients are
    :math:`\alpha g_I[0]` and :math:`\beta g_u[0]`; there is no timing gradient).

    The terms are computed a tile at a time (:func:`~snntorch_tssl._math.tiling.split_tiles`); only
    the recursion steps through time.

    :param grad_spike: :math:`g_s = \partial L / \partial s`, ``[T, ...]`` (None for 0)
    :param mem: membrane before reset :math:`u`, ``[T, ...]``
    :param derivative: the surrogate :math:`\phi'`, applied element-wise to a tile of :math:`u - V`
    :param grad_mem_after_reset: :math:`\hat g = \partial L / \partial \hat u`, ``[T, ...]`` (None for 0)
    :return: :math:`\partial L / \partial I` (or :math:`\partial L / \partial X` with a synapse), ``[T, ...]``
    """
    shape = mem.shape
    mem, grad_spike, grad_mem_after_reset, grad_current = map(
        as_matrix, (mem, grad_spike, grad_mem_after_reset, grad_current)
    )
    grad_final = StateGradients() if grad_final is None else StateGradients(*map(as_vector, grad_final))
    grad_mem_after_reset = add_at_last_step(grad_mem_after_reset, grad_final.mem, mem)
    grad_current = add_at_last_step(grad_current, grad_final.syn, mem)
    grad_input = mem.new_empty(mem.shape)
    beta_all, threshold_all = per_neuron(beta, mem, shape[1:]), per_neuron(threshold, mem, shape[1:])
    if synapse_decay is not None:
        alpha, gain = scalar_like(synapse_decay, mem), scalar_like(1.0 - synapse_decay, mem)
    if return_state_grads:
        state_syn = None if synapse_decay is None else mem.new_zeros(mem.shape[1])
        state_mem = mem.new_zeros(mem.shape[1])
    tiling = split_tiles(mem, reverse=True)
    for block in tiling.blocks:
        beta, threshold = (value if value.dim() == 0 else value[block] for value in (beta_all, threshold_all))
        recursion_carry = filter_carry = None
        for start, end in tiling.chunks:
            u = mem[start:end, block]
            slope = derivative(u - threshold)
            if reset_mechanism == "zero":  # e = 1 - s - phi' u
                passed = torch.le(u, threshold, out=torch.empty_like(u)).sub_(slope * u)
            elif reset_mechanism == "subtract":  # e = 1 - phi' V
                passed = torch.mul(slope, threshold).neg_().add_(1.0)
            else:
                passed = torch.ones_like(u)
            drive = torch.zeros_like(u) if grad_spike is None else slope.mul_(grad_spike[start:end, block])
            if grad_mem_after_reset is not None:
                drive.addcmul_(passed, grad_mem_after_reset[start:end, block])
            result = grad_input[start:end, block]
            tssl_recursion(drive, passed.mul_(beta), recursion_carry, out=result)
            recursion_carry = result[0].clone()
            if grad_current is not None:
                result.add_(grad_current[start:end, block])
            if synapse_decay is not None:
                filter_carry = synapse_transpose_in_place(result, alpha, gain, filter_carry)
        if return_state_grads and len(tiling.chunks) > 0:
            state_mem[block] = recursion_carry * beta
            if synapse_decay is not None:
                state_syn[block] = filter_carry * alpha
    grad_input = grad_input.view(shape)
    if not return_state_grads:
        return grad_input
    return grad_input, StateGradients(
        *(None if value is None else value.view(shape[1:]) for value in (state_syn, state_mem))
    )
