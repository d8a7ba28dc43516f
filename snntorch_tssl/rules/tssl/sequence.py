"""TSSL-BP's sequence path: a synapse + LIF neuron over a whole sequence, with the O(T) backward in one pass."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from snntorch_tssl import _math
from snntorch_tssl.rules.protocol import LIFParameters
from snntorch_tssl.rules.tssl.binding import first_derivative_only, sample, with_warmup_width


def _passes(backend: str):
    """The forward and backward passes of ``backend`` ("torch" or "triton"; the Triton kernels load lazily)."""
    if backend == "triton":
        from snntorch_tssl._math.lif_triton import lif_sequence_scan_triton
        from snntorch_tssl._math.tssl_triton import tssl_sequence_backward_triton

        return lif_sequence_scan_triton, tssl_sequence_backward_triton
    return _math.lif_sequence_scan, _tssl_backward_torch


def _tssl_backward_torch(grad_spike, mem, beta, threshold, reset_mechanism, options, grad_after, warm, **kwargs):
    grad_spike = torch.zeros_like(mem) if grad_spike is None else grad_spike
    return _math.tssl_sequence_backward(
        grad_spike, mem, None, beta, threshold, reset_mechanism, options, grad_after, warm=warm, **kwargs
    )


def firing_rate(mem: Tensor, threshold: Tensor) -> Tensor:
    """The fraction of entries of ``mem`` above ``threshold``, from a sample when the threshold is a scalar."""
    if threshold.dim() == 0:
        mem = sample(mem)
    return (mem > threshold).to(mem.dtype).mean()


class _TSSLSequence(torch.autograd.Function):
    """Synapse and LIF over a whole sequence in one pass; backward is the O(T) TSSL-BP rule followed by
    the synapse's transposed filter, also in one pass.

    Saved for the backward: the membrane before reset and, with warm-up, the
    warm-up mask as booleans. The spikes are recomputed from the membrane
    (:math:`s = 1[u > V]`), which is exact and cheaper than storing them; the
    synaptic current is not needed.

    With ``carry`` the pass starts from the state ``(syn, mem, psc, timing)`` and also returns the
    final one. ``timing`` carries no value (its entries are 0): its gradient is the spike-timing
    recursion :math:`G` at the boundary, so that a sequence cut into chunks whose states are not
    detached gets the gradients of the whole sequence.
    """

    @staticmethod
    def forward(
        ctx,
        input_,
        syn,
        mem,
        psc,
        timing,
        alpha,
        beta,
        threshold,
        reset_mechanism,
        options,
        output,
        backend,
        carry,
        checks,
    ):
        needs_grad = any(ctx.needs_input_grad[:5])
        scan_pass, ctx.backward_pass = _passes(backend)
        scan = scan_pass(
            input_,
            beta,
            threshold,
            reset_mechanism,
            synapse_decay=alpha,
            keep_syn=output,
            keep_mem_after_reset=output,
            warmup_tau_s=options.tau_s if options.warmup and (needs_grad or carry) else None,
            initial=_math.LIFState(syn, mem, psc) if carry else None,
        )
        if needs_grad:
            ctx.save_for_backward(scan.mem, scan.warmup, alpha, beta, threshold, mem if carry else None)
        ctx.reset_mechanism, ctx.options, ctx.carry, ctx.checks = reset_mechanism, options, carry, checks
        ctx.set_materialize_grads(False)
        if not carry:
            return scan.spike, scan.syn, scan.mem_after_reset, None, None, None, None
        final_psc = scan.final.psc if scan.final.psc is None or options.warmup else scan.final.psc.clone()
        if final_psc is not None:
            ctx.mark_non_differentiable(final_psc)
        timing = torch.zeros_like(scan.final.mem)
        return scan.spike, scan.syn, scan.mem_after_reset, scan.final.syn, scan.final.mem, final_psc, timing

    @staticmethod
    @first_derivative_only
    def backward(ctx, grad_spike, grad_syn, grad_after, grad_final_syn, grad_final_mem, _grad_final_psc, grad_timing):
        mem, warm, alpha, beta, threshold, initial_mem = ctx.saved_tensors
        if grad_spike is not None and ctx.checks is not None:
            where = f"a SynapticSequence layer of {'x'.join(map(str, mem.shape[2:])) or 1} neurons"
            rate = lambda: firing_rate(mem, threshold)  # noqa: E731
            ctx.checks(grad_spike, rate, where, (where, mem.shape[1:]), steps=mem.shape[0])
        final = (grad_final_syn, grad_final_mem, grad_timing)
        result = ctx.backward_pass(
            grad_spike,
            mem,
            beta,
            threshold,
            ctx.reset_mechanism,
            ctx.options,
            grad_after,
            warm,
            grad_current=grad_syn,
            synapse_decay=alpha,
            initial_mem=initial_mem,
            grad_final=None if all(value is None for value in final) else _math.StateGradients(*final),
            return_state_grads=ctx.carry,
        )
        grad_input, state = result if ctx.carry else (result, _math.StateGradients())
        needs = ctx.needs_input_grad  # a state given as None (at rest) gets no gradient
        syn, mem, timing = (
            state.syn if needs[1] else None,
            state.mem if needs[2] else None,
            state.timing if needs[4] else None,
        )
        return grad_input, syn, mem, None, timing, *(None,) * 9


def tssl_sequence_forward(
    input_: Tensor,
    neuron: LIFParameters,
    options: _math.TSSLOptions,
    *,
    output: bool,
    backend: str = "auto",
    state: tuple | None = None,
    checks: Callable[..., None] | None = None,
) -> tuple[Tensor, Tensor | None, Tensor | None, tuple | None]:
    r"""Run ``neuron`` over the time-first ``input_`` with the TSSL-BP backward (one autograd node).

    ``options.tau_s`` None takes the neuron's synaptic time constant :math:`1 / (1 - \alpha)` (1 step
    without a synapse), ``options.warmup_width`` None the width for a neuron with or without a synapse
    (``with_warmup_width``). ``checks`` (optional) is shown the gradient that reaches the spikes and the
    spikes (the rule's checks for setups it does not train well).

    :param backend: "auto", "torch" or "triton" (see :func:`snntorch_tssl._math.backend.resolve_backend`)
    :param state: where the sequence starts: ``(syn, mem, psc, timing)``, each shaped like one step of
        ``input_`` or None for zero; None starts at rest and returns no final state
    :return: ``(spk, syn, mem, final)``: spikes, with ``output`` the synaptic current and the membrane
        after reset (else None), and with ``state`` the final state ``(syn, mem, psc, timing)`` (else None)
    """
    options = with_warmup_width(options, has_synapse=neuron.alpha is not None)
    if options.tau_s is None:  # the neuron's, as a 0-dim tensor: no host read
        options = options._replace(tau_s=1.0 if neuron.alpha is None else 1.0 / (1.0 - neuron.alpha))
    carry = state is not None
    syn, mem, psc, timing = state if carry else (None,) * 4
    spk, syn_all, mem_all, *final = _TSSLSequence.apply(
        input_,
        syn,
        mem,
        psc,
        timing,
        neuron.alpha,
        neuron.beta,
        neuron.threshold,
        neuron.reset_mechanism,
        options,
        output,
        _math.resolve_backend(backend, input_),
        carry,
        checks,
    )
    return spk, syn_all, mem_all, tuple(final) if carry else None
