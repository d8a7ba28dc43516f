"""Triton kernel of :func:`~snntorch_tssl._math.surrogate.surrogate_sequence_backward`: backpropagation through
time with a surrogate spike derivative and the synapse's transposed filter in one reverse pass, one launch.

The surrogate is one of the registry's curves, chosen by name (:data:`CURVES`) with its parameters;
the kernel evaluates it in float32 from the saved membrane. The result equals the PyTorch pass with
the rule's own derivative to rounding.
"""

from __future__ import annotations

import math

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


def _curve_parameters(name: str, value: float) -> tuple[float, float, float]:
    """The kernel's three parameters of a curve with width or slope ``value``."""
    if name == "stbp-rectangular":
        return value / 2, value, 0.0
    if name == "stbp-polynomial":
        root = math.sqrt(value)
        return 2 / root, root / 2, value / 4
    if name == "stbp-gaussian":
        return 2 * value, math.sqrt(2 * math.pi * value), 0.0
    if name == "atan":
        return math.pi / 2 * value, value / 2, 0.0
    return value, 0.0, 0.0  # stbp-sigmoid (width a), fast_sigmoid and sigmoid (slope)


#: The surrogate curves of the kernel, by the registry's rule names, with the code the kernel selects by.
#: Each is a function of :math:`x = u - V` with one parameter: STBP's width :math:`a`
#: (:func:`snntorch_tssl.stbp`), snnTorch's ``alpha`` (atan) or ``slope`` (fast_sigmoid, sigmoid).
CURVES = {
    name: code
    for code, name in enumerate(
        ("stbp-rectangular", "stbp-polynomial", "stbp-sigmoid", "stbp-gaussian", "atan", "fast_sigmoid", "sigmoid")
    )
}


@triton.jit
def _curve(x, CURVE: tl.constexpr, p0, p1, p2):
    r"""The surrogate derivative at ``x = u - V`` (the formulas of the rules, term by term)."""
    if CURVE == 0:  # (1/a) 1[|x| < a/2]
        value = tl.where(tl.abs(x) < p0, tl.math.div_rn(1.0, p1 + tl.zeros_like(x)), 0.0)
    elif CURVE == 1:  # (sqrt(a)/2 - (a/4)|x|) 1[|x| < 2/sqrt(a)]
        value = tl.where(tl.abs(x) < p0, p1 - p2 * tl.abs(x), 0.0)
    elif CURVE == 2:  # sigmoid(x/a) sigmoid(-x/a) / a
        z = tl.math.div_rn(x, p0 + tl.zeros_like(x))
        value = tl.math.div_rn(tl.sigmoid(z) * tl.sigmoid(-z), p0 + tl.zeros_like(x))
    elif CURVE == 3:  # exp(-x^2 / (2a)) / sqrt(2 pi a)
        value = tl.math.div_rn(tl.exp(-tl.math.div_rn(x * x, p0 + tl.zeros_like(x))), p1 + tl.zeros_like(x))
    elif CURVE == 4:  # snnTorch's atan: (alpha/2) / (1 + (pi/2 alpha x)^2)
        y = p0 * x
        value = tl.math.div_rn(p1 + tl.zeros_like(x), 1.0 + y * y)
    elif CURVE == 5:  # snnTorch's fast_sigmoid: 1 / (slope |x| + 1)^2
        d = p0 * tl.abs(x) + 1.0
        value = tl.math.div_rn(1.0 + tl.zeros_like(x), d * d)
    else:  # snnTorch's sigmoid: slope e / (e + 1)^2, e = exp(-slope x) (overflows as snnTorch's does)
        e = tl.exp(-p0 * x)
        value = tl.math.div_rn(p0 * e, (e + 1.0) * (e + 1.0))
    return value


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
def _surrogate_backward_kernel(
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
    grad_input_ptr,
    alpha_ptr,
    alpha_stride,
    gain_ptr,
    gain_stride,
    beta_ptr,
    beta_stride,
    threshold_ptr,
    threshold_stride,
    final_syn_ptr,
    final_mem_ptr,
    state_syn_ptr,
    state_mem_ptr,
    p0,
    p1,
    p2,
    last,
    steps,
    neurons,
    CURVE: tl.constexpr,
    RESET: tl.constexpr,
    GRAD_SPIKE: tl.constexpr,
    GRAD_AFTER: tl.constexpr,
    GRAD_CURRENT: tl.constexpr,
    SYNAPSE: tl.constexpr,
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
    membrane_grad = tl.zeros([BLOCK], dtype=tl.float32)  # g_u[t + 1]
    synapse_grad = tl.zeros([BLOCK], dtype=tl.float32)  # g_I[t + 1]
    extra_after = tl.zeros([BLOCK], dtype=tl.float32)  # gradients at the final state, added at the last step
    extra_current = tl.zeros([BLOCK], dtype=tl.float32)
    if FINAL:
        extra_after = tl.load(final_mem_ptr + offsets, mask=mask, other=0.0)
        extra_current = tl.load(final_syn_ptr + offsets, mask=mask, other=0.0)
    mem_pointer = mem_ptr + offsets + last
    grad_input_pointer = grad_input_ptr + offsets + last
    grad_spike_pointer = grad_spike_ptr + offsets * grad_spike_stride_n + grad_spike_last
    grad_after_pointer = grad_after_ptr + offsets * grad_after_stride_n + grad_after_last
    grad_current_pointer = grad_current_ptr + offsets * grad_current_stride_n + grad_current_last
    for _ in range(steps):
        u = tl.load(mem_pointer, mask=mask, other=0.0)
        slope = _curve(u - threshold, CURVE, p0, p1, p2)
        if RESET == 0:  # du_hat/du through the spike: 1 - s - phi' u
            passed = (u <= threshold).to(tl.float32) - slope * u
        elif RESET == 1:  # 1 - phi' V
            passed = 1.0 - slope * threshold
        else:
            passed = tl.full([BLOCK], 1.0, tl.float32)
        drive = tl.zeros([BLOCK], dtype=tl.float32)
        if GRAD_SPIKE:
            drive = slope * tl.load(grad_spike_pointer, mask=mask, other=0.0).to(tl.float32)
        if GRAD_AFTER or FINAL:
            grad_after = extra_after
            if GRAD_AFTER:
                grad_after += tl.load(grad_after_pointer, mask=mask, other=0.0).to(tl.float32)
            drive += passed * grad_after
        membrane_grad = drive + (passed * beta) * membrane_grad
        result = membrane_grad
        if GRAD_CURRENT or FINAL:
            grad_current = extra_current
            if GRAD_CURRENT:
                grad_current += tl.load(grad_current_pointer, mask=mask, other=0.0).to(tl.float32)
            result += grad_current
        if SYNAPSE:
            synapse_grad = result + alpha * synapse_grad
            result = gain * synapse_grad
        tl.store(grad_input_pointer, result, mask=mask)
        extra_after = tl.zeros([BLOCK], dtype=tl.float32)
        extra_current = tl.zeros([BLOCK], dtype=tl.float32)
        mem_pointer -= neurons
        grad_input_pointer -= neurons
        grad_spike_pointer -= grad_spike_stride_t
        grad_after_pointer -= grad_after_stride_t
        grad_current_pointer -= grad_current_stride_t
    if STATE:
        tl.store(state_mem_ptr + offsets, beta * membrane_grad, mask=mask)
        tl.store(state_syn_ptr + offsets, alpha * synapse_grad, mask=mask)


def surrogate_sequence_backward_triton(
    grad_spike: Tensor | None,
    mem: Tensor,
    beta: Tensor | float,
    threshold: Tensor | float,
    reset_mechanism: str,
    curve: tuple[str, float],
    grad_mem_after_reset: Tensor | None = None,
    *,
    grad_current: Tensor | None = None,
    synapse_decay: Tensor | float | None = None,
    grad_final: StateGradients | None = None,
    return_state_grads: bool = False,
) -> Tensor | tuple[Tensor, StateGradients]:
    """:func:`~snntorch_tssl._math.surrogate.surrogate_sequence_backward` as one Triton launch (float32), with
    the derivative given as ``curve``: a name of :data:`CURVES` and its width or slope."""
    check_float32("mem", mem)
    name, value = curve
    if name not in CURVES:
        raise ValueError(f"curve must name one of the kernel's curves {sorted(CURVES)}, got {name!r}")
    matrix = as_matrix(mem).contiguous()
    steps, neurons = matrix.shape
    neuron_shape = mem.shape[1:]
    grad_input = matrix.new_empty((steps, neurons))
    state = [matrix.new_zeros(neurons) for _ in range(2)] if return_state_grads else [matrix] * 2
    if neurons > 0:
        final = None if grad_final is None else [state_vector(value, matrix) for value in grad_final[:2]]
        _surrogate_backward_kernel[launch_grid(neurons)](
            *gradient_operands(matrix, grad_spike, grad_mem_after_reset, grad_current),
            matrix,
            grad_input,
            *neuron_constants(synapse_decay, beta, threshold, matrix, neuron_shape),
            *(final or [matrix] * 2),
            *state,
            *_curve_parameters(name, value),
            (steps - 1) * neurons,
            steps,
            neurons,
            CURVE=CURVES[name],
            RESET=RESET_CODES[reset_mechanism],
            GRAD_SPIKE=grad_spike is not None,
            GRAD_AFTER=grad_mem_after_reset is not None,
            GRAD_CURRENT=grad_current is not None,
            SYNAPSE=synapse_decay is not None,
            FINAL=final is not None,
            STATE=return_state_grads,
            **launch_options(),
        )
    grad_input = grad_input.view(mem.shape)
    if not return_state_grads:
        return grad_input
    syn, mem_grad = (value.view(neuron_shape) for value in state)
    return grad_input, StateGradients(None if synapse_decay is None else syn, mem_grad)
