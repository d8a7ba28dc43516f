"""The sequence path of per-step surrogate rules (STBP's curves, snnTorch's atan, fast_sigmoid, sigmoid):
a synapse + LIF neuron over a whole sequence, with backpropagation through time in one reverse pass."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from snntorch_tssl import _math
from snntorch_tssl.rules.protocol import LIFParameters


def _passes(backend: str):
    """The forward and backward passes of ``backend`` ("torch" or "triton"; the Triton kernels load lazily).
    The backwards take the surrogate in the same place: the PyTorch one as a function, the Triton one as a
    named curve."""
    if backend == "triton":
        from snntorch_tssl._math.lif_triton import lif_sequence_scan_triton
        from snntorch_tssl._math.surrogate_triton import surrogate_sequence_backward_triton

        return lif_sequence_scan_triton, surrogate_sequence_backward_triton
    return _math.lif_sequence_scan, _math.surrogate_sequence_backward


class _SurrogateSequence(torch.autograd.Function):
    """Synapse and LIF over a whole sequence in one pass; backward is backpropagation through time with the
    rule's surrogate derivative (reset not detached, as in snnTorch) and the synapse's transposed filter,
    in one reverse pass. Saved for the backward: the membrane before reset only."""

    @staticmethod
    def forward(
        ctx, input_, syn, mem, alpha, beta, threshold, reset_mechanism, derivative, curve, output, backend, carry
    ):
        scan_pass, ctx.backward_pass = _passes(backend)
        scan = scan_pass(
            input_,
            beta,
            threshold,
            reset_mechanism,
            synapse_decay=alpha,
            keep_syn=output,
            keep_mem_after_reset=output,
            initial=_math.LIFState(syn, mem) if carry else None,
        )
        if any(ctx.needs_input_grad[:3]):
            ctx.save_for_backward(scan.mem, alpha, beta, threshold)
        ctx.surrogate = curve if backend == "triton" else derivative
        ctx.reset_mechanism, ctx.carry = reset_mechanism, carry
        ctx.set_materialize_grads(False)
        final = (scan.final.syn, scan.final.mem) if carry else (None, None)
        return scan.spike, scan.syn, scan.mem_after_reset, *final

    @staticmethod
    def backward(ctx, grad_spike, grad_syn, grad_after, grad_final_syn, grad_final_mem):
        mem, alpha, beta, threshold = ctx.saved_tensors
        final = (grad_final_syn, grad_final_mem)
        result = ctx.backward_pass(
            grad_spike,
            mem,
            beta,
            threshold,
            ctx.reset_mechanism,
            ctx.surrogate,
            grad_after,
            grad_current=grad_syn,
            synapse_decay=alpha,
            grad_final=None if all(value is None for value in final) else _math.StateGradients(*final),
            return_state_grads=ctx.carry,
        )
        grad_input, state = result if ctx.carry else (result, _math.StateGradients())
        needs = ctx.needs_input_grad  # a state given as None (at rest) gets no gradient
        return grad_input, state.syn if needs[1] else None, state.mem if needs[2] else None, *(None,) * 9


def surrogate_sequence_forward(
    input_: Tensor,
    neuron: LIFParameters,
    derivative: Callable[[Tensor], Tensor],
    curve: tuple[str, float],
    *,
    output: bool,
    backend: str = "auto",
    state: tuple | None = None,
) -> tuple[Tensor, Tensor | None, Tensor | None, tuple | None]:
    r"""Run ``neuron`` over the time-first ``input_``, differentiated through time with a surrogate spike
    derivative (one autograd node); the gradients are those of the neuron stepped with that surrogate.

    :param derivative: the surrogate :math:`\phi'(u - V)`, element-wise (the PyTorch backward)
    :param curve: the same surrogate for the Triton backward: a name of
        :data:`snntorch_tssl._math.surrogate_triton.CURVES` and its width or slope
    :param backend: "auto", "torch" or "triton" (see :func:`snntorch_tssl._math.backend.resolve_backend`)
    :param state: where the sequence starts: ``(syn, mem, psc, timing)``, each shaped like one step of
        ``input_`` or None for zero (``psc`` and ``timing`` pass through unused); None starts at rest
        and returns no final state
    :return: ``(spk, syn, mem, final)`` as :func:`snntorch_tssl.rules.tssl.sequence.tssl_sequence_forward`
    """
    carry = state is not None
    syn, mem, psc, timing = state if carry else (None,) * 4
    spk, syn_all, mem_all, final_syn, final_mem = _SurrogateSequence.apply(
        input_,
        syn,
        mem,
        neuron.alpha,
        neuron.beta,
        neuron.threshold,
        neuron.reset_mechanism,
        derivative,
        curve,
        output,
        _math.resolve_backend(backend, input_),
        carry,
    )
    return spk, syn_all, mem_all, (final_syn, final_mem, psc, timing) if carry else None
