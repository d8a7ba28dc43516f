"""Step-mode binding of the TSSL-BP rule to stock snnTorch neurons.

A stock neuron calls its ``spike_grad`` twice per step: first on the
previous membrane (``mem_reset``, result detached), then on the new one
(``fire``). Forward hooks on the neuron tell the rule which neuron is
calling; per neuron it keeps the running sequence (warm-up PSC, last
returned membrane) and per step a :class:`_Step` with the quantities of
the rule for stock neurons (section 3 of the package's specification).
Three autograd pieces make the gradient exact:

- :class:`_MembraneEntry` wraps the previous membrane as the step reads it
  and sends nothing back along the membrane path: the rule supplies that
  path itself;
- :class:`_Spike` is the Heaviside step; its backward records
  :math:`g_s[t]` (and gives a learnable threshold its share);
- a tensor hook on the membrane :math:`u[t]` replaces the gradient that
  reaches it (which is then only what reaches the membrane directly, such as
  a membrane loss) by :math:`\\partial L / \\partial I[t]` of the rule, and
  stores :math:`G[t]` for step :math:`t - 1`.

With ``reset_delay=False`` snnTorch resets with the (differentiable) spike;
:class:`_ResetPath` rebuilds the reset membrane with the same value and
gradient, minus the path through the spike, which the rule replaces.
"""

from __future__ import annotations

import torch
from torch import Tensor

from snntorch_tssl import _math


def _heaviside(mem_shift: Tensor) -> Tensor:
    """:math:`\\mathbb{1}[x > 0]` in the input's dtype (as snnTorch's surrogates compute the spike)."""
    return torch.sign(mem_shift).clamp_(min=0)


class _Step:
    """What one neuron's TSSL-BP backward needs about one time step."""

    __slots__ = (
        "timing",
        "coefficient",
        "leak",
        "warm",
        "warm_surrogate",
        "next",
        "grad_spike",
        "grad_recursion",
        "grad_membrane",
    )

    def __init__(
        self, timing: Tensor, coefficient: Tensor, leak: Tensor, warm: Tensor | None, warm_surrogate: Tensor | None
    ) -> None:
        self.timing = timing
        self.coefficient = coefficient
        self.leak = leak
        self.warm = warm
        self.warm_surrogate = warm_surrogate
        self.next: _Step | None = None
        self.grad_spike: Tensor | None = None
        self.grad_recursion: Tensor | None = None
        self.grad_membrane: Tensor | None = None

    def membrane_hook(self, direct: Tensor) -> Tensor:
        """Gradient hook of :math:`u[t]`: return :math:`\\partial L/\\partial I[t]`, keep :math:`G[t]`."""
        grad_spike, self.grad_spike = self.grad_spike, None
        grad_next = membrane_next = None
        if self.next is not None:
            grad_next, self.next.grad_recursion = self.next.grad_recursion, None
            membrane_next, self.next.grad_membrane = self.next.grad_membrane, None
        grad_current, self.grad_recursion, self.grad_membrane = _math.tssl_step_backward(
            grad_spike,
            grad_next,
            membrane_next,
            direct,
            self.timing,
            self.coefficient,
            self.leak,
            self.warm,
            self.warm_surrogate,
        )
        return grad_current


class _Spike(torch.autograd.Function):
    """Heaviside spike whose gradient goes to the rule, not along ``u - V``."""

    @staticmethod
    def forward(ctx, mem_shift: Tensor, threshold: Tensor | None, step: _Step) -> Tensor:
        ctx.step = step
        return _heaviside(mem_shift)

    @staticmethod
    def backward(ctx, grad_spike: Tensor):
        step = ctx.step
        step.grad_spike = grad_spike
        grad_threshold = None
        if ctx.needs_input_grad[1]:
            grad_threshold = -_math.tssl_spike_derivative(step.timing, step.warm, step.warm_surrogate) * grad_spike
        return torch.zeros_like(grad_spike), grad_threshold, None


class _MembraneEntry(torch.autograd.Function):
    """Identity on the previous membrane; the rule supplies its gradient."""

    @staticmethod
    def forward(ctx, mem: Tensor) -> Tensor:
        return mem.view_as(mem)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        return torch.zeros_like(grad)


class _ResetPath(torch.autograd.Function):
    """snnTorch's ``reset_delay=False`` reset with the spike treated as a constant."""

    @staticmethod
    def forward(ctx, mem: Tensor, threshold: Tensor | None, mem_after_reset: Tensor, do_reset: Tensor, zero: bool):
        ctx.do_reset = do_reset
        ctx.zero = zero
        return mem_after_reset.clone()

    @staticmethod
    def backward(ctx, grad: Tensor):
        grad_mem = grad * (1.0 - ctx.do_reset) if ctx.zero else grad
        grad_threshold = None if ctx.zero or not ctx.needs_input_grad[1] else -ctx.do_reset * grad
        return grad_mem, grad_threshold, None, None, None


class NeuronBinding:
    """The rule's running state for one neuron: its current sequence and step."""

    __slots__ = ("last_mem", "psc", "previous", "phase", "mem_after_reset", "reset", "mem", "spike", "after_fire")

    def __init__(self) -> None:
        self.last_mem: Tensor | None = None
        self.psc: Tensor | None = None
        self.previous: _Step | None = None
        self.phase = 0
        self.mem_after_reset: Tensor | None = None
        self.reset: Tensor | None = None
        self.mem: Tensor | None = None
        self.spike: Tensor | None = None
        self.after_fire: tuple[Tensor, Tensor] | None = None

    def continues(self, mem: Tensor) -> bool:
        """True if ``mem`` is the membrane returned last (or a detached alias of it).

        ``last_mem`` is kept as a detached alias: it holds the storage (so no
        other tensor can take its address) but not the autograd graph.
        """
        last = self.last_mem
        return (
            last is not None
            and mem.data_ptr() == last.data_ptr()
            and mem.shape == last.shape
            and mem.stride() == last.stride()
        )

    def enter(self, owner, mem_shift: Tensor) -> Tensor:
        """First call of a step, on the previous membrane: detect the sequence, wrap the membrane."""
        mem = owner.mem
        after_fire, self.after_fire = self.after_fire, None
        if not self.continues(mem):
            self.psc = self.previous = after_fire = None
        if after_fire is not None:
            # The membrane was returned unreset (reset_delay=True): its spike and reset are known.
            self.reset, self.mem_after_reset = after_fire
        else:
            mem_value = mem.detach()
            self.reset = _heaviside(mem_shift.detach())
            removed = _math.reset_removed(mem_value, self.reset, owner.threshold.detach(), owner.reset_mechanism)
            self.mem_after_reset = mem_value - removed
        if mem.requires_grad and torch.is_grad_enabled():
            owner.mem = _MembraneEntry.apply(mem)
        return self.reset

    def fire(self, owner, mem_shift: Tensor, options: _math.TSSLOptions) -> Tensor:
        """Second call of a step, on the new membrane: the spike and the step's backward context."""
        mem = owner.mem
        mem_value, shift = mem.detach(), mem_shift.detach()
        spike = _heaviside(shift)
        threshold = owner.threshold.detach()
        beta = owner.beta.detach().clamp(0, 1)
        timing = _math.timing_factor(spike, mem_value - self.mem_after_reset, options.max_inv_du)
        removed = _math.reset_removed(mem_value, spike, threshold, owner.reset_mechanism)
        reset_grad = _math.reset_derivative(spike, owner.reset_mechanism)
        coefficient = _math.recursion_coefficient(timing, beta, removed, reset_grad, options.reset_term)
        leak = beta * reset_grad
        psc = torch.zeros_like(spike) if self.psc is None else self.psc
        self.psc = _math.psc_step(psc, spike, options.tau_s)
        warm = warm_surrogate = None
        if options.warmup:
            warm = _math.warmup_weight(self.psc, options.tau_s)
            warm_surrogate = warm * _math.warmup_surrogate(shift, options.warmup_width)
        self.mem, self.spike = mem, spike
        self.after_fire = (spike, mem_value - removed)
        if not (mem_shift.requires_grad and torch.is_grad_enabled()):
            self.previous = None
            return spike
        step = _Step(timing, coefficient, leak, warm, warm_surrogate)
        if self.previous is not None:
            self.previous.next = step
        self.previous = step
        if mem.requires_grad:
            mem.register_hook(step.membrane_hook)
        learn_threshold = owner.threshold if owner.threshold.requires_grad else None
        return _Spike.apply(mem_shift, learn_threshold, step)

    def leave(self, owner, output):
        """After the neuron's step: rebuild a ``reset_delay=False`` reset, remember the returned membrane."""
        mem_after = owner.mem
        mem = self.mem
        if mem is not None and mem_after is not mem and mem.requires_grad and torch.is_grad_enabled():
            threshold = owner.threshold if owner.threshold.requires_grad else None
            rebuilt = _ResetPath.apply(
                mem, threshold, mem_after.detach(), self.spike - self.reset, owner.reset_mechanism == "zero"
            )
            owner.mem = rebuilt
            if isinstance(output, tuple):
                output = tuple(rebuilt if item is mem_after else item for item in output)
        if owner.mem is not mem:
            self.after_fire = None
        self.last_mem = owner.mem.detach()
        self.mem = self.spike = self.reset = None
        return output
