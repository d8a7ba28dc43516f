"""The neuron of the paper (section 1 of the specification), generalised to three resets: forward passes."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from snntorch_tssl._math.tiling import as_matrix, as_vector, per_neuron, scalar_like, split_tiles

RESET_MECHANISMS = ("zero", "subtract", "none")


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


class LIFState(NamedTuple):
    r"""Where a sequence pass starts or ends, per neuron (tensors shaped like one step, None for zero): the
    synaptic current :math:`I`, the membrane after reset :math:`\hat u` and the neuron's own PSC :math:`a`
    (the trace behind the warm-up mask of TSSL-BP)."""

    syn: Tensor | None = None
    mem: Tensor | None = None
    psc: Tensor | None = None


class StateGradients(NamedTuple):
    r"""Gradients at the boundary of a sequence pass, per neuron (shaped like one step, None for zero):
    of the synaptic current :math:`I`, of the membrane after reset :math:`\hat u`, and TSSL-BP's
    spike-timing gradient :math:`G` (the value of its recursion at the boundary).

    A backward pass takes those arriving at its final state (from a later pass that continued from
    it) and returns those at its initial state."""

    syn: Tensor | None = None
    mem: Tensor | None = None
    timing: Tensor | None = None


class LIFScan(NamedTuple):
    """What :func:`lif_sequence_scan` returns (the optional fields are None unless asked for)."""

    mem: Tensor
    spike: Tensor
    mem_after_reset: Tensor | None
    warmup: Tensor | None
    syn: Tensor | None = None
    final: LIFState | None = None


def lif_sequence_scan(
    current: Tensor,
    beta: Tensor | float,
    threshold: Tensor | float,
    reset_mechanism: str,
    *,
    synapse_decay: Tensor | float | None = None,
    keep_syn: bool = False,
    keep_mem_after_reset: bool = False,
    warmup_tau_s: float | Tensor | None = None,
    initial: LIFState | None = None,
) -> LIFScan:
    r"""One fused pass over time: the LIF forward of :func:`lif_sequence_forward` and, on request,
    the synapse in front of it, the membrane after reset :math:`\hat u` and the warm-up mask of the
    neuron's own PSC.

    With ``synapse_decay`` :math:`\alpha`, ``current`` is the synapse's input :math:`X` and the
    neuron is driven by :math:`I[t] = \alpha I[t-1] + (1 - \alpha) X[t]` (kept as ``syn`` with
    ``keep_syn``). With ``warmup_tau_s`` (a number, or a 0-dim tensor) the loop also runs the PSC
    filter of the spikes and stores :func:`~snntorch_tssl._math.tssl.warmup_mask` as booleans (one
    byte per element), which is all the TSSL-BP backward needs of it.

    The pass starts from ``initial`` (:class:`LIFState`; at rest, all zero, by default) and returns
    the state after the last step in ``final``: the synaptic current (None without a synapse), the
    membrane after reset and the PSC (``initial``'s, unchanged, without ``warmup_tau_s``).

    ``beta`` and ``threshold`` are scalars or tensors broadcastable to one step ``current[0]``
    (per-neuron constants).

    Every step writes straight into preallocated ``[T, ...]`` results, so the only temporaries are
    one tile large (:func:`~snntorch_tssl._math.tiling.split_tiles`). Each term is computed with the
    same operations as the textbook recursion (no fused multiply-add), so results are bit-identical to it and to stock
    snnTorch.

    :return: :class:`LIFScan` ``(mem, spike, mem_after_reset, warmup, syn, final)``
    """
    x = as_matrix(current)
    mem, spike = x.new_empty(x.shape), x.new_empty(x.shape)
    after_all = x.new_empty(x.shape) if keep_mem_after_reset else None
    syn_all = x.new_empty(x.shape) if keep_syn else None
    warm = None if warmup_tau_s is None else torch.empty(x.shape, dtype=torch.bool, device=x.device)
    beta_all, threshold_all = per_neuron(beta, x, current.shape[1:]), per_neuron(threshold, x, current.shape[1:])
    tiling = split_tiles(x)
    if synapse_decay is not None:
        alpha, gain = scalar_like(synapse_decay, x), scalar_like(1.0 - synapse_decay, x)
        syn_tile = None if keep_syn else x.new_empty((tiling.steps, tiling.width))
    if warm is not None:
        psc_decay = 1.0 - 1.0 / warmup_tau_s
        psc_gain, psc_decay = 1.0 - psc_decay, scalar_like(psc_decay, x)
        if isinstance(psc_gain, Tensor):  # a time constant given as a 0-dim tensor (read on the device)
            psc_gain = scalar_like(psc_gain, x)
        warm_below = scalar_like(0.25 / warmup_tau_s, x)
        psc_tile = x.new_empty((tiling.steps, tiling.width))
    begin = LIFState() if initial is None else LIFState(*map(as_vector, initial))
    final_syn = None if synapse_decay is None else x.new_empty(x.shape[1])
    final_mem = x.new_empty(x.shape[1])
    final_psc = begin.psc if warm is None else x.new_empty(x.shape[1])
    for block in tiling.blocks:
        width = block.stop - block.start
        beta, threshold = (value if value.dim() == 0 else value[block] for value in (beta_all, threshold_all))
        after, after_buffer, product, syn, psc = (x.new_zeros(width) for _ in range(5))
        for buffer, value in ((after, begin.mem), (syn, begin.syn), (psc, begin.psc)):
            if value is not None:
                buffer.copy_(value[block])
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
                    psc_out = psc_tile[t - start, :width]
                    if isinstance(psc_gain, Tensor):
                        psc = torch.addcmul(psc, s, psc_gain, out=psc_out)
                    else:
                        psc = torch.add(psc, s, alpha=psc_gain, out=psc_out)
            if synapse_decay is not None and not keep_syn:
                syn = syn_carry.copy_(syn)  # the tile buffer is refilled next
            if warm is not None:  # warmup_mask of the tile: compare in floating point, store as bool
                psc = psc_carry.copy_(psc)
                window = psc_tile[: end - start, :width]
                warm[start:end, block].copy_(torch.lt(window, warm_below, out=window))
        final_mem[block] = after
        if final_syn is not None:
            final_syn[block] = syn
        if warm is not None:
            final_psc[block] = psc
    shaped = (None if tensor is None else tensor.view(current.shape) for tensor in (after_all, warm, syn_all))
    final = LIFState(
        *(None if value is None else value.view(current.shape[1:]) for value in (final_syn, final_mem, final_psc))
    )
    return LIFScan(mem.view(current.shape), spike.view(current.shape), *shaped, final)


def mem_increment(mem: Tensor, spike: Tensor, threshold: Tensor | float, reset_mechanism: str) -> Tensor:
    r"""Membrane increment :math:`\Delta u[t] = u[t] - \hat u[t-1]` (:math:`\hat u[-1] = 0`)."""
    after_reset = mem - reset_removed(mem, spike, threshold, reset_mechanism)
    previous = torch.cat([torch.zeros_like(mem[:1]), after_reset[:-1]])
    return mem - previous


def step_function(x: Tensor) -> Tensor:
    r"""Heaviside step :math:`\mathbb{1}[x > 0]` as 0/1 in ``x``'s dtype (``NaN`` excluded).

    Equals ``(x > 0).to(x.dtype)`` exactly; the comparison writes straight into a floating-point
    result (a boolean intermediate and its conversion are several times slower on CPU).
    """
    return torch.gt(x, 0.0, out=torch.empty_like(x))
