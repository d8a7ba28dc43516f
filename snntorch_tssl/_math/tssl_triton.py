"""Triton kernel of :func:`~snntorch_tssl._math.tssl.tssl_sequence_backward`: the TSSL-BP backward, both
gradient streams and the synapse's transposed filter in one reverse pass over time, one launch.

Each program owns a block of neurons and walks back from the last step, carrying the spike-timing
recursion :math:`G`, the membrane stream :math:`H` and the synapse's :math:`g_I`; it recomputes the
spikes, the reset and the membrane increment from the saved membrane. Everything is float32; the
result equals the PyTorch pass to rounding.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from snntorch_tssl._math.lif import StateGradients
from snntorch_tssl._math.lif_triton import (
    RESET_CODES,
    check_float32,
    gradient_operands,
    launch_grid,
    launch_options,
    load_constant,
    neuron_constants,
    state_vector,
)
from snntorch_tssl._math.tiling import as_matrix
from snntorch_tssl._math.tssl import TSSLOptions


@triton.jit(
    do_not_specialize=[
        "grad_spike_stride_t",
        "grad_spike_stride_n",
        "grad_spike_last",
        "grad_after_stride_t",
        "grad_after_stride_n",
        "grad_after_last",
        "grad_current_stride_t",
        "grad_current_stride_n",
        "grad_current_last",
        "last",
        "steps",
        "neurons",
    ]
)
def _tssl_backward_kernel(
    grad_spike_ptr,
    grad_spike_stride_t,
    grad_spike_stride_n,
    grad_spike_last,
    grad_after_ptr,
    grad_after_stride_t,
    grad_after_stride_n,
    grad_after_last,
    grad_current_ptr,
    grad_current_stride_t,
    grad_current_stride_n,
    grad_current_last,
    mem_ptr,
    warm_ptr,
    grad_input_ptr,
    alpha_ptr,
    alpha_stride,
    gain_ptr,
    gain_stride,
    beta_ptr,
    beta_stride,
    threshold_ptr,
    threshold_stride,
    mem_initial_ptr,
    final_syn_ptr,
    final_mem_ptr,
    final_timing_ptr,
    state_syn_ptr,
    state_mem_ptr,
    state_timing_ptr,
    max_inv_du,
    warmup_width,
    last,
    steps,
    neurons,
    RESET: tl.constexpr,
    WARMUP: tl.constexpr,
    WARMUP_KEEPS_TIMING: tl.constexpr,
    RESET_TERM: tl.constexpr,
    GRAD_SPIKE: tl.constexpr,
    GRAD_AFTER: tl.constexpr,
    GRAD_CURRENT: tl.constexpr,
    SYNAPSE: tl.constexpr,
    INITIAL: tl.constexpr,
    FINAL: tl.constexpr,
    STATE: tl.constexpr,
    BLOCK: tl.constexpr,
):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < neurons
    beta = load_constant(beta_ptr, beta_stride, offsets, mask)
    threshold = load_constant(threshold_ptr, threshold_stride, offsets, mask)
    alpha = load_constant(alpha_ptr, alpha_stride, offsets, mask)
    gain = load_constant(gain_ptr, gain_stride, offsets, mask)
    timing_grad = tl.zeros([BLOCK], dtype=tl.float32)  # G[t + 1]
    membrane_grad = tl.zeros([BLOCK], dtype=tl.float32)  # H[t + 1]
    synapse_grad = tl.zeros([BLOCK], dtype=tl.float32)  # g_I[t + 1]
    extra_after = tl.zeros([BLOCK], dtype=tl.float32)  # gradients at the final state, added at the last step
    extra_current = tl.zeros([BLOCK], dtype=tl.float32)
    if FINAL:
        timing_grad = tl.load(final_timing_ptr + offsets, mask=mask, other=0.0)
        extra_after = tl.load(final_mem_ptr + offsets, mask=mask, other=0.0)
        extra_current = tl.load(final_syn_ptr + offsets, mask=mask, other=0.0)
    mem_initial = tl.zeros([BLOCK], dtype=tl.float32)
    if INITIAL:
        mem_initial = tl.load(mem_initial_ptr + offsets, mask=mask, other=0.0)
    mem_pointer = mem_ptr + offsets + last
    warm_pointer = warm_ptr + offsets + last
    grad_input_pointer = grad_input_ptr + offsets + last
    grad_spike_pointer = grad_spike_ptr + offsets * grad_spike_stride_n + grad_spike_last
    grad_after_pointer = grad_after_ptr + offsets * grad_after_stride_n + grad_after_last
    grad_current_pointer = grad_current_ptr + offsets * grad_current_stride_n + grad_current_last
    u = tl.load(mem_pointer, mask=mask, other=0.0)
    for step in range(steps):
        first = step == steps - 1  # t = 0
        u_before = tl.load(mem_pointer - neurons, mask=mask & (step < steps - 1), other=0.0)
        s = (u > threshold).to(tl.float32)
        s_before = (u_before > threshold).to(tl.float32)
        if RESET == 0:
            removed = u * s
            reset_grad = 1.0 - s
            after_before = u_before - u_before * s_before
        elif RESET == 1:
            removed = s * threshold
            reset_grad = tl.full([BLOCK], 1.0, tl.float32)
            after_before = u_before - s_before * threshold
        else:
            removed = tl.zeros([BLOCK], dtype=tl.float32)
            reset_grad = tl.full([BLOCK], 1.0, tl.float32)
            after_before = u_before
        if INITIAL:
            after_before = tl.where(first, mem_initial, after_before)
        increment = u - after_before
        inverse = tl.minimum(tl.maximum(tl.math.div_rn(1.0, increment), 0.0), max_inv_du)
        timing = tl.where((increment > 0.0) & (after_before <= threshold), inverse, 0.0) * s  # crossed in the step
        grad_spike = tl.zeros([BLOCK], dtype=tl.float32)
        if GRAD_SPIKE:
            grad_spike = tl.load(grad_spike_pointer, mask=mask, other=0.0).to(tl.float32)
        coefficient = beta * reset_grad
        if RESET_TERM:
            coefficient = coefficient + timing * (removed * (1.0 - beta))
            if RESET == 1:  # subtract: at most the non-leaky neuron's 1
                coefficient = tl.minimum(coefficient, 1.0)
        timing_grad = timing * grad_spike + coefficient * timing_grad
        result = timing_grad
        if WARMUP:  # sigma'(u - V) g_s on warm-up steps, q (1 - q) / w with q the smaller logistic value
            warm = tl.load(warm_pointer, mask=mask, other=0) != 0
            q = tl.sigmoid(tl.maximum(-tl.math.div_rn(tl.abs(u - threshold), warmup_width), -8.0))
            warm_value = tl.math.div_rn(q - q * q, warmup_width) * grad_spike
            if WARMUP_KEEPS_TIMING:
                result = tl.where(warm, warm_value + result, result)
            else:
                result = tl.where(warm, warm_value, result)
        if GRAD_AFTER or FINAL:  # the membrane stream H[t] = (du_hat/du)[t] (g_hat[t] + beta H[t + 1])
            grad_after = extra_after
            if GRAD_AFTER:
                grad_after += tl.load(grad_after_pointer, mask=mask, other=0.0).to(tl.float32)
            membrane_grad = grad_after * reset_grad + (beta * reset_grad) * membrane_grad
            result += membrane_grad
        if GRAD_CURRENT or FINAL:
            grad_current = extra_current
            if GRAD_CURRENT:
                grad_current += tl.load(grad_current_pointer, mask=mask, other=0.0).to(tl.float32)
            result += grad_current
        if SYNAPSE:  # the transposed filter: g_I[t] = dL/dI[t] + alpha g_I[t + 1], g_X[t] = (1 - alpha) g_I[t]
            synapse_grad = result + alpha * synapse_grad
            result = gain * synapse_grad
        tl.store(grad_input_pointer, result, mask=mask)
        extra_after = tl.zeros([BLOCK], dtype=tl.float32)
        extra_current = tl.zeros([BLOCK], dtype=tl.float32)
        u = u_before
        mem_pointer -= neurons
        warm_pointer -= neurons
        grad_input_pointer -= neurons
        grad_spike_pointer -= grad_spike_stride_t
        grad_after_pointer -= grad_after_stride_t
        grad_current_pointer -= grad_current_stride_t
    if STATE:
        tl.store(state_timing_ptr + offsets, timing_grad, mask=mask)
        tl.store(state_mem_ptr + offsets, beta * membrane_grad, mask=mask)
        tl.store(state_syn_ptr + offsets, alpha * synapse_grad, mask=mask)


def tssl_sequence_backward_triton(
    grad_spike: Tensor | None,
    mem: Tensor,
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
    """:func:`~snntorch_tssl._math.tssl.tssl_sequence_backward` as one Triton launch (float32; the spikes are
    always recomputed from ``mem``, ``grad_spike`` None is zero, and with warm-up ``warm`` is required)."""
    check_float32("mem", mem)
    if options.warmup and warm is None:
        raise ValueError("warm must be given when options.warmup is True (the mask from the forward pass)")
    matrix = as_matrix(mem).contiguous()
    steps, neurons = matrix.shape
    neuron_shape = mem.shape[1:]
    grad_input = matrix.new_empty((steps, neurons))
    state = [matrix.new_zeros(neurons) for _ in range(3)] if return_state_grads else [matrix] * 3
    if neurons > 0:
        final = None if grad_final is None else [state_vector(value, matrix) for value in grad_final]
        warm_bytes = matrix if warm is None else as_matrix(warm).contiguous().view(torch.uint8)
        max_inv_du = min(options.max_inv_du, torch.finfo(torch.float32).max)
        _tssl_backward_kernel[launch_grid(neurons)](
            *gradient_operands(matrix, grad_spike, grad_mem_after_reset, grad_current),
            matrix,
            warm_bytes,
            grad_input,
            *neuron_constants(synapse_decay, beta, threshold, matrix, neuron_shape),
            matrix if initial_mem is None else state_vector(initial_mem, matrix),
            *(final or [matrix] * 3),
            *state,
            max_inv_du,
            options.warmup_width,
            (steps - 1) * neurons,
            steps,
            neurons,
            RESET=RESET_CODES[reset_mechanism],
            WARMUP=options.warmup,
            WARMUP_KEEPS_TIMING=options.warmup_keeps_timing,
            RESET_TERM=options.reset_term,
            GRAD_SPIKE=grad_spike is not None,
            GRAD_AFTER=grad_mem_after_reset is not None,
            GRAD_CURRENT=grad_current is not None,
            SYNAPSE=synapse_decay is not None,
            INITIAL=initial_mem is not None,
            FINAL=final is not None,
            STATE=return_state_grads,
            **launch_options(),
        )
    grad_input = grad_input.view(mem.shape)
    if not return_state_grads:
        return grad_input
    syn, mem_grad, timing = (value.view(neuron_shape) for value in state)
    return grad_input, StateGradients(None if synapse_decay is None else syn, mem_grad, timing)
