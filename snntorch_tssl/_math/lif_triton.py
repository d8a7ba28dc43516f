"""Triton kernel of :func:`~snntorch_tssl._math.lif.lif_sequence_scan`: synapse, LIF neuron, reset and the
warm-up trace over a whole sequence in one launch, and the launch helpers the backward kernels share.

Each program owns a block of neurons and walks through time; neurons run in parallel. Every term is
computed with the operations of the PyTorch pass in float32 and the kernel is compiled without
fused multiply-adds, so its spikes and membranes are bit-identical to :func:`lif_sequence_scan`.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from snntorch_tssl._math.lif import RESET_MECHANISMS, LIFScan, LIFState
from snntorch_tssl._math.tiling import as_matrix, as_vector, per_neuron

#: Neurons per program (a power of two). The tests lower it to run several programs on small tensors.
BLOCK = 128

#: Kernel code of each reset mechanism.
RESET_CODES = {name: code for code, name in enumerate(RESET_MECHANISMS)}


def launch_grid(neurons: int) -> tuple[int]:
    """One program per :data:`BLOCK` neurons."""
    return (triton.cdiv(neurons, BLOCK),)


def launch_options() -> dict:
    """Block size and warps of a launch (one neuron per thread)."""
    return {"BLOCK": BLOCK, "num_warps": max(1, min(4, BLOCK // 32))}


def constant(value: Tensor | float, like: Tensor, neuron_shape: torch.Size) -> tuple[Tensor, int]:
    """A neuron constant as ``(tensor, stride)`` for a kernel: stride 0 for a scalar, 1 per neuron."""
    value = per_neuron(value, like, neuron_shape)
    return value, 0 if value.dim() == 0 else 1


def neuron_constants(
    synapse_decay: Tensor | float | None,
    beta: Tensor | float,
    threshold: Tensor | float,
    like: Tensor,
    shape: torch.Size,
) -> list[Tensor | int]:
    """The kernels' neuron constants :math:`\alpha, 1 - \alpha, \beta, V` as (tensor, stride) pairs, flat
    (:math:`\alpha = 0` without a synapse)."""
    alpha = 0.0 if synapse_decay is None else synapse_decay
    return [part for value in (alpha, 1.0 - alpha, beta, threshold) for part in constant(value, like, shape)]


def gradient_operands(like: Tensor, *gradients: Tensor | None) -> list[Tensor | int]:
    """The backward kernels' ``[T, N]`` gradient operands as :func:`strided` quadruples, flat (``like``
    with zero strides for an absent one)."""
    operands = (strided(as_matrix(value)) if value is not None else (like, 0, 0, 0) for value in gradients)
    return [part for operand in operands for part in operand]


def state_vector(value: Tensor | None, like: Tensor) -> Tensor:
    """A state tensor (shaped like one step, None for zero) as a contiguous float32 ``[N]``."""
    if value is None:
        return like.new_zeros(like.shape[1])
    return as_vector(value).to(torch.float32).contiguous()


def strided(matrix: Tensor) -> tuple[Tensor, int, int, int]:
    """A ``[T, N]`` operand as ``(tensor, stride over time, stride over neurons, offset of the last step)``."""
    stride_t, stride_n = matrix.stride()
    return matrix, stride_t, stride_n, (matrix.shape[0] - 1) * stride_t


def check_float32(name: str, tensor: Tensor) -> None:
    if tensor.dtype != torch.float32:
        raise TypeError(
            f"{name} must be float32 for the Triton kernels (others use the PyTorch path), got {tensor.dtype}"
        )


@triton.jit
def load_constant(pointer, stride, offsets, mask):
    """A neuron constant for a block: one value (stride 0) or one per neuron (stride 1)."""
    return tl.load(pointer + offsets * stride, mask=mask, other=0.0)


@triton.jit(do_not_specialize=["x_stride_t", "x_stride_n", "steps", "neurons"])
def _lif_forward_kernel(
    x_ptr,
    x_stride_t,
    x_stride_n,
    spike_ptr,
    mem_ptr,
    after_ptr,
    syn_ptr,
    warm_ptr,
    alpha_ptr,
    alpha_stride,
    gain_ptr,
    gain_stride,
    beta_ptr,
    beta_stride,
    threshold_ptr,
    threshold_stride,
    syn_initial_ptr,
    mem_initial_ptr,
    psc_initial_ptr,
    syn_final_ptr,
    mem_final_ptr,
    psc_final_ptr,
    psc_decay_ptr,
    psc_gain_ptr,
    warm_below_ptr,
    steps,
    neurons,
    RESET: tl.constexpr,
    SYNAPSE: tl.constexpr,
    KEEP_SYN: tl.constexpr,
    KEEP_AFTER: tl.constexpr,
    TRACE: tl.constexpr,
    INITIAL: tl.constexpr,
    BLOCK: tl.constexpr,
):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < neurons
    beta = load_constant(beta_ptr, beta_stride, offsets, mask)
    threshold = load_constant(threshold_ptr, threshold_stride, offsets, mask)
    alpha = load_constant(alpha_ptr, alpha_stride, offsets, mask)
    gain = load_constant(gain_ptr, gain_stride, offsets, mask)
    syn = tl.zeros([BLOCK], dtype=tl.float32)
    after = tl.zeros([BLOCK], dtype=tl.float32)
    psc = tl.zeros([BLOCK], dtype=tl.float32)
    if INITIAL:
        syn = tl.load(syn_initial_ptr + offsets, mask=mask, other=0.0)
        after = tl.load(mem_initial_ptr + offsets, mask=mask, other=0.0)
        psc = tl.load(psc_initial_ptr + offsets, mask=mask, other=0.0)
    if TRACE:  # the trace's constants, device scalars (tau_s may be the neuron's, a tensor)
        psc_decay = tl.load(psc_decay_ptr)
        psc_gain = tl.load(psc_gain_ptr)
        warm_below = tl.load(warm_below_ptr)
    x_pointer = x_ptr + offsets * x_stride_n
    spike_pointer = spike_ptr + offsets
    mem_pointer = mem_ptr + offsets
    after_pointer = after_ptr + offsets
    syn_pointer = syn_ptr + offsets
    warm_pointer = warm_ptr + offsets
    for _ in range(steps):
        drive = tl.load(x_pointer, mask=mask, other=0.0)
        if SYNAPSE:  # I[t] = (1 - alpha) X[t] + alpha I[t - 1]
            syn = drive * gain + syn * alpha
            drive = syn
        u = after * beta + drive
        s = (u > threshold).to(tl.float32)
        if RESET == 0:
            after = u - u * s
        elif RESET == 1:
            after = u - s * threshold
        else:
            after = u
        tl.store(spike_pointer, s, mask=mask)
        tl.store(mem_pointer, u, mask=mask)
        if KEEP_AFTER:
            tl.store(after_pointer, after, mask=mask)
        if KEEP_SYN:
            tl.store(syn_pointer, syn, mask=mask)
        if TRACE:  # the neuron's own PSC and its warm-up mask a[t] < 1 / (4 tau_s)
            psc = psc * psc_decay + s * psc_gain
            tl.store(warm_pointer, (psc < warm_below).to(tl.uint8), mask=mask)
        x_pointer += x_stride_t
        spike_pointer += neurons
        mem_pointer += neurons
        after_pointer += neurons
        syn_pointer += neurons
        warm_pointer += neurons
    tl.store(mem_final_ptr + offsets, after, mask=mask)
    if SYNAPSE:
        tl.store(syn_final_ptr + offsets, syn, mask=mask)
    if TRACE:
        tl.store(psc_final_ptr + offsets, psc, mask=mask)


def lif_sequence_scan_triton(
    current: Tensor,
    beta: Tensor | float,
    threshold: Tensor | float,
    reset_mechanism: str,
    *,
    synapse_decay: Tensor | float | None = None,
    keep_syn: bool = False,
    keep_mem_after_reset: bool = False,
    warmup_tau_s: float | None = None,
    initial: LIFState | None = None,
) -> LIFScan:
    """:func:`~snntorch_tssl._math.lif.lif_sequence_scan` as one Triton launch (float32, same arguments and
    results, bit-identical)."""
    check_float32("current", current)
    x, x_stride_t, x_stride_n, _ = strided(as_matrix(current))
    steps, neurons = x.shape
    neuron_shape = current.shape[1:]
    mem, spike = x.new_empty((steps, neurons)), x.new_empty((steps, neurons))
    after = x.new_empty((steps, neurons)) if keep_mem_after_reset else None
    syn = x.new_empty((steps, neurons)) if keep_syn else None
    warm = None if warmup_tau_s is None else torch.empty((steps, neurons), dtype=torch.bool, device=x.device)
    initial = LIFState() if initial is None else initial
    final_syn = None if synapse_decay is None else x.new_empty(neurons)
    final_mem = x.new_empty(neurons)
    final_psc = as_vector(initial.psc) if warm is None else x.new_empty(neurons)
    if neurons > 0:
        tau_s = 1.0 if warmup_tau_s is None else warmup_tau_s  # a number or a 0-dim tensor
        psc_decay = 1.0 - 1.0 / tau_s  # as lif_sequence_scan computes the trace's constants
        trace = [per_neuron(value, x, torch.Size()) for value in (psc_decay, 1.0 - psc_decay, 0.25 / tau_s)]
        start = any(value is not None for value in initial)
        syn_initial, mem_initial, psc_initial = (state_vector(value, x) if start else x for value in initial)
        _lif_forward_kernel[launch_grid(neurons)](
            x,
            x_stride_t,
            x_stride_n,
            spike,
            mem,
            mem if after is None else after,
            mem if syn is None else syn,
            mem if warm is None else warm.view(torch.uint8),
            *neuron_constants(synapse_decay, beta, threshold, x, neuron_shape),
            syn_initial,
            mem_initial,
            psc_initial,
            final_mem if final_syn is None else final_syn,
            final_mem,
            final_mem if warm is None else final_psc,
            *trace,
            steps,
            neurons,
            RESET=RESET_CODES[reset_mechanism],
            SYNAPSE=synapse_decay is not None,
            KEEP_SYN=keep_syn,
            KEEP_AFTER=keep_mem_after_reset,
            TRACE=warm is not None,
            INITIAL=start,
            enable_fp_fusion=False,
            **launch_options(),
        )
    shaped = (None if tensor is None else tensor.view(current.shape) for tensor in (after, warm, syn))
    final = (None if value is None else value.view(neuron_shape) for value in (final_syn, final_mem, final_psc))
    return LIFScan(mem.view(current.shape), spike.view(current.shape), *shaped, LIFState(*final))
