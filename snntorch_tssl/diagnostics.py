r"""Why a model trains badly with TSSL-BP: per layer, what the rule sees and what it sends back.

:func:`diagnose` runs one forward and backward pass of a model as it is and
one with every TSSL-BP rule replaced by a surrogate, on the same weights and
batch, and reports for each spiking layer its firing rate, the fraction of
its neurons that never fire, the fraction of its steps on the warm-up
surrogate, the spike steps whose timing term :math:`1/\Delta u` is clamped
at ``max_inv_du`` and those whose recursion coefficient :math:`c[t]` exceeds
1; and for each parameter the two gradients' norms and their cosine.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from snntorch_tssl import _math


@dataclasses.dataclass
class LayerReport:
    """What one spiking layer did in the diagnosed pass.

    ``clamped``, ``coefficient_above_1`` and ``max_coefficient`` are fractions of spike steps (and
    the largest :math:`c[t]`) under the TSSL-BP rule; None where the layer is not a stock neuron
    stepped with ``tssl()`` (its rule's step quantities are not seen).
    """

    name: str
    rule: str
    firing_rate: float
    silent: float
    warmup: float | None = None
    clamped: float | None = None
    coefficient_above_1: float | None = None
    max_coefficient: float | None = None


@dataclasses.dataclass
class ParameterReport:
    """The gradient of one parameter with the model's rules and with the reference surrogate."""

    name: str
    norm: float
    reference_norm: float
    cosine: float

    @property
    def ratio(self) -> float:
        """The norm as a multiple of the reference's (inf where the reference's is 0)."""
        return self.norm / self.reference_norm if self.reference_norm > 0 else math.inf


@dataclasses.dataclass
class Diagnosis:
    r"""The result of :func:`diagnose`; ``str()`` gives two markdown tables, ``to_dict()`` a JSON-ready dict.

    Each parameter's gradient :math:`g` (with ``tssl()``) is compared with :math:`g_{ref}` (with the
    reference surrogate) by the ratio :math:`\|g\| / \|g_{ref}\|` and the cosine
    :math:`\langle g, g_{ref} \rangle / (\|g\|\, \|g_{ref}\|)`.

    Example::

        import snntorch as snn
        import torch
        from torch import nn
        from snntorch_tssl import diagnose, tssl

        net = nn.Sequential(nn.Linear(4, 6), snn.Leaky(beta=0.9, init_hidden=True, spike_grad=tssl()))
        report = diagnose(net, torch.rand(8, 4) * 3, lambda spk: spk.sum())
        worst = min(report.parameters, key=lambda p: p.cosine)
        print(worst.name, worst.ratio, report.layers[0].firing_rate)
    """

    loss: float
    reference_loss: float
    reference: str
    layers: list[LayerReport]
    parameters: list[ParameterReport]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"ratios": {p.name: p.ratio for p in self.parameters}}

    def __str__(self) -> str:
        def number(value: float | None, form: str) -> str:
            return "-" if value is None else format(value, form)

        lines = [
            f"loss {self.loss:.4g} (with {self.reference} everywhere: {self.reference_loss:.4g})",
            "",
            "| layer | rule | firing rate | silent | warm-up steps | 1/du clamped | c > 1 | max c |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for layer in self.layers:
            lines.append(
                f"| {layer.name} | {layer.rule} | {layer.firing_rate:.3f} | {layer.silent:.1%} | "
                f"{number(layer.warmup, '.1%')} | {number(layer.clamped, '.1%')} | "
                f"{number(layer.coefficient_above_1, '.1%')} | {number(layer.max_coefficient, '.3g')} |"
            )
        lines += [
            "",
            f"| parameter | gradient norm | {self.reference}'s | ratio | cosine |",
            "|---|---|---|---|---|",
        ]
        for parameter in self.parameters:
            lines.append(
                f"| {parameter.name} | {parameter.norm:.3g} | {parameter.reference_norm:.3g} | "
                f"{parameter.ratio:.3g} | {parameter.cosine:.3f} |"
            )
        return "\n".join(lines)


class _Tally:
    """Running sums of one layer's spikes and step quantities over the diagnosed pass; its outputs have
    ``leading`` dimensions before the neurons' (1: batch, a stepped neuron; 2: time and batch)."""

    def __init__(self, leading: int) -> None:
        self.leading = leading
        self.spikes = self.entries = 0.0
        self.fired: Tensor | None = None  # per neuron: fired at any step for any sample
        self.warm = self.warm_entries = 0.0
        self.clamped = self.above_1 = 0.0
        self.max_coefficient = -math.inf
        self.timing_seen = False

    def add_spikes(self, spikes: Tensor) -> None:
        spikes = spikes.detach()
        self.spikes += float(spikes.float().sum())
        self.entries += spikes.numel()
        fired = (spikes != 0).flatten(0, self.leading - 1).any(0) if spikes.dim() > self.leading else spikes != 0
        self.fired = fired if self.fired is None or self.fired.shape != fired.shape else self.fired | fired

    def add_step(self, spike: Tensor, timing: Tensor, coefficient: Tensor, warm: Tensor | None, cap: float) -> None:
        self.timing_seen = True
        fired = spike > 0
        self.clamped += float(((timing >= cap) & fired).sum())
        above = (coefficient > 1.0) & fired
        self.above_1 += float(above.sum())
        if bool(fired.any()):
            self.max_coefficient = max(self.max_coefficient, float(coefficient.detach().expand_as(spike)[fired].max()))
        if warm is not None:
            self.warm += float(warm.sum())
            self.warm_entries += warm.numel()

    def report(self, name: str, rule: str) -> LayerReport:
        rate = self.spikes / self.entries if self.entries else 0.0
        silent = 1.0 - float(self.fired.float().mean()) if self.fired is not None else 1.0
        report = LayerReport(name, rule, rate, silent)
        if self.timing_seen:
            report.warmup = self.warm / self.warm_entries if self.warm_entries else None
            report.clamped = self.clamped / self.spikes if self.spikes else 0.0
            report.coefficient_above_1 = self.above_1 / self.spikes if self.spikes else 0.0
            report.max_coefficient = self.max_coefficient if self.max_coefficient > -math.inf else None
        return report


class _Recorder:
    """Adds each step of a stock neuron stepped with ``tssl()`` (as the binding hands it) to its layer's tally."""

    def __init__(self, tallies: dict[nn.Module, _Tally]) -> None:
        self.tallies = tallies

    def __call__(
        self,
        neuron: nn.Module,
        mem: Tensor,
        previous: Tensor,
        spike: Tensor,
        warm: Tensor | None,
        leak: Tensor,
        threshold: Tensor,
        reset_mechanism: str,
        options: _math.TSSLOptions,
    ) -> None:
        tally = self.tallies.get(neuron)
        if tally is None:
            return
        mem, previous = mem.detach(), previous.detach()
        timing = _math.timing_factor(spike, mem, previous, threshold, options.max_inv_du)
        removed = _math.reset_removed(mem, spike, threshold, reset_mechanism)
        reset_grad = _math.reset_derivative(spike, reset_mechanism)
        coefficient = _math.recursion_coefficient(
            timing, leak, removed, reset_grad, options.reset_term, reset_mechanism
        )
        cap = options.max_inv_du if math.isfinite(options.max_inv_du) else math.inf
        tally.add_step(spike, timing, coefficient, warm, cap)


def _spiking_layers(model: nn.Module) -> dict[nn.Module, str]:
    return {
        module: name or type(module).__name__
        for name, module in model.named_modules()
        if "spike_grad" in module._modules or callable(getattr(module, "spike_grad", None))
    }


def _rule_name(rule: object) -> str:
    """A short name: ``tssl(...)`` with the options that differ from the defaults, else the factory's name
    (snnTorch's surrogates are closures of their factory, e.g. ``fast_sigmoid``)."""
    from snntorch_tssl.rules.tssl import TSSL

    if isinstance(rule, TSSL):
        defaults = _math.TSSLOptions(tau_s=None, warmup_width=None)
        changed = [f"{k}={v}" for k, v in rule.options._asdict().items() if getattr(defaults, k) != v]
        return f"tssl({', '.join(changed)})"
    name = getattr(rule, "__qualname__", None) or type(rule).__qualname__
    return name.split(".<locals>")[0]


def _copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model``; tensors it holds that are not graph leaves (the hidden state of
    ``init_hidden`` neurons after a step) are copied detached."""
    memo = {}
    for module in model.modules():
        for value in [*vars(module).values(), *module._buffers.values()]:
            if isinstance(value, Tensor) and not value.is_leaf:
                memo[id(value)] = value.detach().clone()
    return copy.deepcopy(model, memo)


def _with_reference(model: nn.Module, reference: Callable) -> nn.Module:
    """A copy of ``model`` whose TSSL-BP rules are copies of ``reference``."""
    from snntorch_tssl.rules.tssl import TSSL

    copied = _copy(model)
    for module in _spiking_layers(copied):
        if isinstance(getattr(module, "spike_grad", None), TSSL):
            delattr(module, "spike_grad")
            module.spike_grad = copy.deepcopy(reference)
    return copied


def _pass(
    model: nn.Module, inputs: object, loss_fn: Callable, forward: Callable, rng: dict, observe: bool
) -> tuple[float, dict[str, Tensor], dict[nn.Module, _Tally]]:
    """One forward and backward pass of ``model`` from the random state ``rng``: the loss, the parameters'
    gradients and each spiking layer's tally (with the step quantities of ``tssl()`` if ``observe``)."""
    from snntorch_tssl.neurons import SynapticSequence
    from snntorch_tssl.rules.tssl import binding

    tallies = {
        module: _Tally(2 if isinstance(module, (SynapticSequence,) + binding.SEQUENCE_NEURONS) else 1)
        for module in _spiking_layers(model)
    }
    handles = [
        module.register_forward_hook(
            lambda m, args, out: tallies[m].add_spikes(out[0] if isinstance(out, tuple) else out)
        )
        for module in tallies
    ]
    torch.random.set_rng_state(rng["cpu"])
    if rng["cuda"] is not None:
        torch.cuda.set_rng_state_all(rng["cuda"])
    try:
        with binding.observe_steps(_Recorder(tallies) if observe else None):
            loss = loss_fn(forward(model, inputs))
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            shape = f" of shape {tuple(loss.shape)}" if isinstance(loss, Tensor) else ""
            raise TypeError(f"loss_fn must return a scalar tensor, got {type(loss).__name__}{shape}")
        model.zero_grad(set_to_none=True)
        loss.backward()
    finally:
        for handle in handles:
            handle.remove()
    grads = {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}
    return float(loss.detach()), grads, tallies


def diagnose(
    model: nn.Module,
    inputs: object,
    loss_fn: Callable[[object], Tensor],
    *,
    forward: Callable[[nn.Module, object], object] | None = None,
    reference: Callable | None = None,
) -> Diagnosis:
    r"""Per layer, what TSSL-BP sees and sends back in one training step of ``model``, against a surrogate.

    Two copies of ``model`` (the model itself is not changed) each run ``loss_fn(forward(model,
    inputs))`` and its backward from the same random state: one as it is, one with every
    ``tssl()`` replaced by ``reference``. Both have the same forward pass (a rule changes only the
    backward), so the gradients differ only by the rule. For every spiking layer (a module with a
    ``spike_grad``) it reports the firing rate, the fraction of its neurons that never fire in the
    batch, and, for stock snnTorch neurons stepped with ``tssl()``, the fraction of steps on the
    warm-up surrogate and the fractions of spike steps with the timing term clamped,
    :math:`1/\Delta u \ge m_{max}`, and with a recursion coefficient

    .. math:: c[t] = \beta\, \frac{\partial \hat u[t]}{\partial u[t]} + s[t]\, m[t]\, (1 - \beta)\, \rho[t] > 1,

    which makes :math:`G` grow backwards in time. For every parameter it reports the norm of its
    gradient under both rules and their cosine.

    :param model: a model with stock snnTorch neurons or :class:`~snntorch_tssl.SynapticSequence` layers
        whose ``spike_grad`` is ``tssl()`` (at least one)
    :param inputs: the batch, handed to ``forward``
    :param loss_fn: the model's output -> the scalar loss
    :param forward: ``(model, inputs) -> output``; default ``model(inputs)``
    :param reference: the surrogate to compare with; default ``snntorch.surrogate.atan()`` (snnTorch's
        default spike_grad)
    :return: a :class:`Diagnosis` (``print()`` it for two markdown tables)

    Example::

        import snntorch as snn
        import torch
        from torch import nn
        from snntorch_tssl import diagnose, tssl

        net = nn.Sequential(nn.Linear(20, 30), snn.Leaky(beta=0.9, init_hidden=True, spike_grad=tssl()))

        def run(net, x):  # x: [T, B, 20]
            net[1].reset_hidden()
            return torch.stack([net(step) for step in x])

        report = diagnose(net, torch.rand(10, 8, 20) * 2, lambda spk: spk.sum(), forward=run)
        print(report)
    """
    from snntorch import surrogate

    from snntorch_tssl.rules.tssl import TSSL

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable (the model's output -> a scalar loss), got {type(loss_fn).__name__}")
    if forward is not None and not callable(forward):
        raise TypeError(f"forward must be callable (model, inputs) -> output, got {type(forward).__name__}")
    reference = surrogate.atan() if reference is None else reference
    if not callable(reference) or isinstance(reference, TSSL):
        raise TypeError(f"reference must be a surrogate spike_grad other than tssl(), got {_rule_name(reference)}")
    if not any(isinstance(getattr(m, "spike_grad", None), TSSL) for m in _spiking_layers(model)):
        raise ValueError("model has no neuron whose spike_grad is tssl(): there is nothing to diagnose")
    forward = (lambda net, batch: net(batch)) if forward is None else forward
    rng = {
        "cpu": torch.random.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }
    names = list(_spiking_layers(model).values())
    cuda_devices = list(range(torch.cuda.device_count())) if rng["cuda"] is not None else []
    with torch.random.fork_rng(devices=cuda_devices):  # the caller's random state is left as it was
        loss, grads, tallies = _pass(_copy(model), inputs, loss_fn, forward, rng, observe=True)
        reference_loss, reference_grads, _ = _pass(
            _with_reference(model, reference), inputs, loss_fn, forward, rng, False
        )
    layers = [
        tally.report(name, _rule_name(module.spike_grad))
        for (module, tally), name in zip(tallies.items(), names, strict=True)
    ]
    parameters = []
    for name, grad in grads.items():
        other = reference_grads.get(name, torch.zeros_like(grad))
        norm, other_norm = float(grad.norm()), float(other.norm())
        cosine = float((grad * other).sum() / (norm * other_norm)) if norm > 0 and other_norm > 0 else 0.0
        parameters.append(ParameterReport(name, norm, other_norm, cosine))
    return Diagnosis(loss, reference_loss, _rule_name(reference), layers, parameters)
