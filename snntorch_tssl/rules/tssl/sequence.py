"""TSSL-BP's sequence path: a synapse + LIF neuron over a whole sequence, with the O(T) backward in one pass."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from snntorch_tssl import _math
from snntorch_tssl.rules.protocol import LIFParameters
from snntorch_tssl.rules.tssl.binding import first_derivative_only


class _TSSLSequence(torch.autograd.Function):
    """Synapse and LIF over a whole sequence in one pass; backward is the O(T) TSSL-BP rule followed by
    the synapse's transposed filter, also in one pass.

    Saved for the backward: the membrane before reset and, with warm-up, the
    warm-up mask as booleans. The spikes are recomputed from the membrane
    (:math:`s = 1[u > V]`), which is exact and cheaper than storing them; the
    synaptic current is not needed.
    """

    @staticmethod
    def forward(ctx, input_, alpha, beta, threshold, reset_mechanism, options, output, loss_check):
        needs_grad = ctx.needs_input_grad[0]
        scan = _math.lif_sequence_scan(
            input_,
            beta,
            threshold,
            reset_mechanism,
            synapse_decay=alpha,
            keep_syn=output,
            keep_mem_after_reset=output,
            warmup_tau_s=options.tau_s if options.warmup and needs_grad else None,
        )
        if needs_grad:
            ctx.save_for_backward(scan.mem, scan.warmup, alpha, beta, threshold)
        ctx.reset_mechanism = reset_mechanism
        ctx.options = options
        ctx.loss_check = loss_check
        ctx.set_materialize_grads(False)
        return scan.spike, scan.syn, scan.mem_after_reset

    @staticmethod
    @first_derivative_only
    def backward(ctx, grad_spike, grad_syn, grad_mem_after_reset):
        mem, warm, alpha, beta, threshold = ctx.saved_tensors
        if grad_spike is None:
            grad_spike = torch.zeros_like(mem)
        elif ctx.loss_check is not None:
            ctx.loss_check(grad_spike, "a SynapticSequence layer")
        grad_input = _math.tssl_sequence_backward(
            grad_spike,
            mem,
            None,
            beta,
            threshold,
            ctx.reset_mechanism,
            ctx.options,
            grad_mem_after_reset,
            warm=warm,
            grad_current=grad_syn,
            synapse_decay=alpha,
        )
        return grad_input, None, None, None, None, None, None, None


def tssl_sequence_forward(
    input_: Tensor,
    neuron: LIFParameters,
    options: _math.TSSLOptions,
    *,
    output: bool,
    backend: str = "torch",
    loss_check: Callable[[Tensor, str], None] | None = None,
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    r"""Run ``neuron`` over the time-first ``input_`` with the TSSL-BP backward (one autograd node).

    ``options.tau_s`` None takes the neuron's synaptic time constant :math:`1 / (1 - \alpha)` (1 step
    without a synapse). ``loss_check`` (optional) is shown the gradient that reaches the spikes (the
    rule's check for a softmax over spikes).

    :return: ``(spk, syn, mem)``: spikes, and with ``output`` the synaptic current and the membrane
        after reset (else None)
    """
    if options.tau_s is None:  # the neuron's, as a 0-dim tensor: no host read
        options = options._replace(tau_s=1.0 if neuron.alpha is None else 1.0 / (1.0 - neuron.alpha))
    return _TSSLSequence.apply(
        input_, neuron.alpha, neuron.beta, neuron.threshold, neuron.reset_mechanism, options, output, loss_check
    )
