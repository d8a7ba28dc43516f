r"""TSSL-BP inside stock snnTorch neurons: which neurons, and how a step's gradient is made exact.

A stock neuron calls its ``spike_grad`` on ``u - V`` only; the rule needs the
neuron (its leak, reset, threshold, synaptic time constant) and the previous
membrane. Forward hooks on the neuron (registered when the neuron takes the
rule as its ``spike_grad``) open a :class:`_Call` for each call of the neuron
on a per-thread stack; the rule's calls within it find the neuron there.

Every step of a step-mode neuron is one autograd node, :class:`_TSSLStep`,
with three outputs: the spike, the membrane :math:`u[t]` (the same values,
so that the gradient that reaches it, the membrane stream :math:`H[t]`,
arrives separately), and a link whose gradient is the spike-timing stream
:math:`G[t+1]` of the next step. The next step finds the link, and the
warm-up PSC trace, on the membrane it is handed (an attribute of that
tensor), so the recursion runs through the autograd graph: nothing of a
sequence is kept in the rule or in the neuron, several threads and
DataParallel replicas may share one rule, and extra calls of a neuron on
the same membrane (probes) neither cut nor bend the recursion of the call
whose output feeds the loss. Snntorch's own path from the previous membrane
into :math:`u[t]` is cut by :class:`_MembraneEntry`; the node sends the
membrane stream back along it itself, :math:`J^\top H[t]` with
:math:`J = \partial u[t] / \partial u_{in}` the leak (times the reset's
derivative).

Sequence neurons (``snn.StateLeaky``, ``snn.LinearLeaky``: no reset, the
membrane of the whole sequence in one call) get the sequence backward.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator
from typing import NamedTuple

import snntorch as snn
import torch
from torch import Tensor, nn

from snntorch_tssl import _math

#: snnTorch versions whose neurons the binding was written against (their call pattern is checked at run time).
SNNTORCH_VERSIONS = ("1.0.",)

#: :math:`\tau_s` of the warm-up test in a neuron without a synapse, when the rule was built without one: the
#: neuron's spikes are its output, the PSC of a 1-step kernel (section 1 of the specification with tau_s = 1).
TAU_S_WITHOUT_SYNAPSE = 1.0

#: Width :math:`w` of the warm-up surrogate :math:`\sigma'(u - V)` when the rule was built without one. With a
#: synapse (snn.Synaptic, snn.RSynaptic, SynapticSequence) the paper's 0.2: a step is a warm-up step only until
#: the neuron's slow PSC builds up. Without one every silent step is a warm-up step (tau_s = 1), so the warm-up
#: surrogate carries most of the gradient and the paper's narrow width starves neurons far below threshold;
#: 0.5 is the width measured to train snnTorch's tutorial CNN (the "how it works" page).
WARMUP_WIDTH_WITH_SYNAPSE = 0.2
WARMUP_WIDTH_WITHOUT_SYNAPSE = 0.5

#: Neurons stepped in a loop, membrane ``u[t] = leak * reset(u_in) + gain * I[t]``: the step binding.
STEP_NEURONS: tuple[type, ...] = (snn.Leaky, snn.Synaptic, snn.RLeaky, snn.RSynaptic, snn.Lapicque)
#: Neurons that compute the membrane of the whole sequence at once, without reset: the sequence backward.
SEQUENCE_NEURONS: tuple[type, ...] = (snn.StateLeaky,)

_NO_LEAK_PATH = (
    "TSSL-BP's recursion carries the spike-timing gradient along the membrane's leak path "
    "u[t+1] = beta * u_hat[t] + I[t+1], which this neuron does not have"
)
_USE_INSTEAD = "Use it with a surrogate (e.g. snntorch_tssl.stbp() or snntorch.surrogate.atan())"
#: Neurons whose dynamics have no spike-timing gradient of TSSL-BP's kind, with the reason and what to use.
REFUSED_NEURONS: dict[type, str] = {
    snn.DeltaLeaky: (
        "it fires on the change of its membrane, abs(u[t] - u[t-1]) > threshold, not on the membrane crossing a "
        "threshold, so there is no spike time for TSSL-BP to move. " + _USE_INSTEAD + "."
    ),
    snn.Alpha: (
        "its membrane tau_alpha * (I_exc[t] + I_inh[t]) is a function of two synaptic currents and its reset acts "
        "on the currents; " + _NO_LEAK_PATH + ". " + _USE_INSTEAD + ", or snn.Synaptic (the paper's neuron, a "
        "first-order synapse) with tssl()."
    ),
    snn.SLSTM: (
        "its membrane is an LSTM cell state, not a leaky integrator; " + _NO_LEAK_PATH + ". " + _USE_INSTEAD + "."
    ),
    snn.SConv2dLSTM: (
        "its membrane is a convolutional LSTM cell state, not a leaky integrator; "
        + _NO_LEAK_PATH
        + ". "
        + _USE_INSTEAD
        + "."
    ),
    snn.LeakyParallel: (
        "its membrane is the output of a ReLU recurrence (nn.RNN), not a leaky integrator with a threshold reset; "
        + _NO_LEAK_PATH
        + ". "
        + _USE_INSTEAD
        + "."
    ),
}

_OUTSIDE_A_STEP = (
    "tssl() was called outside a neuron's step ({where}): TSSL-BP needs the neuron's membrane trajectory, so here "
    "it acts as a per-step surrogate, the Heaviside step forward and its warm-up derivative sigma'(u - V) "
    "backward. To train with TSSL-BP, pass tssl() as the spike_grad of snn.Leaky, snn.Synaptic, snn.RLeaky, "
    "snn.RSynaptic, snn.Lapicque, snn.StateLeaky, snn.LinearLeaky or snntorch_tssl.SynapticSequence and call the "
    "neuron."
)

_calls = threading.local()  # per thread: the stack of neuron calls in progress
_observers = threading.local()  # per thread: who is shown every step (a diagnosis), if anyone


def _call_stack() -> list[_Call]:
    stack = getattr(_calls, "stack", None)
    if stack is None:
        stack = _calls.stack = []
    return stack


def heaviside(mem_shift: Tensor) -> Tensor:
    """:math:`\\mathbb{1}[x > 0]` in the input's dtype, as snnTorch's surrogates compute the spike."""
    return _math.step_function(mem_shift.detach())


# --------------------------------------------------------------------------
# Binding a neuron: classify it, refuse it, or register the call hooks.
# --------------------------------------------------------------------------


def refusal(neuron: nn.Module) -> str | None:
    """Why ``tssl()`` cannot be this neuron's spike_grad, or None if it can."""
    for kind, reason in REFUSED_NEURONS.items():
        if isinstance(neuron, kind):
            return f"tssl() does not support snn.{kind.__name__}: {reason}"
    return None


def settings_refusal(neuron: nn.Module) -> str | None:
    """Why ``tssl()`` cannot work with the neuron's settings (known at its first step), or None."""
    for flag in ("inhibition", "state_quant"):
        if getattr(neuron, flag, False):
            return (
                f"tssl() does not support snn.{type(neuron).__name__}({flag}=...): TSSL-BP needs the spike to be "
                "1[mem > threshold] of the neuron's own membrane; build the neuron without it or use a surrogate"
            )
    return None


def bind(neuron: nn.Module, rule: nn.Module) -> None:
    """Make ``rule`` work as ``neuron``'s spike_grad; called when the neuron registers it.

    Refused neurons raise ``NotImplementedError`` here, while they are built (and do not stay in
    snnTorch's class-wide list of neurons, as they will not exist).
    """
    try:
        _bind(neuron, rule)
    except Exception:
        if neuron in snn.SpikingNeuron.instances:
            snn.SpikingNeuron.instances.remove(neuron)
        raise


def _bind(neuron: nn.Module, rule: nn.Module) -> None:
    reason = refusal(neuron)
    if reason is not None:
        raise NotImplementedError(reason)
    hooks = list(neuron._forward_pre_hooks.values())
    if rule.options.tau_s is not None and check_time_constant_once not in hooks:
        neuron.register_forward_pre_hook(check_time_constant_once)
    if not isinstance(neuron, STEP_NEURONS + SEQUENCE_NEURONS):
        return  # a sequence neuron of this package, or a module that calls the rule itself
    _check_snntorch(neuron)
    if _open_call not in hooks:
        neuron.register_forward_pre_hook(_open_call)
        neuron.register_forward_hook(_close_call, always_call=True)


def _check_snntorch(neuron: nn.Module) -> None:
    """The binding relies on snnTorch's call pattern (checked at every step) and on these methods."""
    needed = ("fire", "forward") + (("mem_reset",) if isinstance(neuron, snn.LIF) else ())
    missing = [name for name in needed if not callable(getattr(type(neuron), name, None))]
    if missing or not snn.__version__.startswith(SNNTORCH_VERSIONS):
        message = (
            f"tssl() relies on how snnTorch {', '.join(v + 'x' for v in SNNTORCH_VERSIONS)} neurons call spike_grad; "
            f"the installed snnTorch is {snn.__version__}"
        )
        if missing:
            raise RuntimeError(f"{message}, whose snn.{type(neuron).__name__} lacks {missing}")
        stacklevel = user_stacklevel()
        warnings.warn(f"{message}: the call pattern is checked at every step.", UserWarning, stacklevel=stacklevel)


def check_tau_s(neuron: nn.Module, options: _math.TSSLOptions, tau: Tensor | None) -> None:
    """Warn if an explicit ``tau_s`` contradicts the neuron's synaptic time constant ``tau`` (a host read:
    done once per neuron, at its first call)."""
    if options.tau_s is None or tau is None:
        return
    if not torch.allclose(tau.detach().double().cpu(), torch.tensor(options.tau_s, dtype=torch.float64), rtol=1e-5):
        warnings.warn(
            f"tssl(tau_s={options.tau_s:g}) in {type(neuron).__name__}, whose synaptic time constant 1/(1 - alpha) "
            f"is {_short(tau)}: the warm-up test uses tau_s={options.tau_s:g}. Build the rule as tssl() to take the "
            "neuron's own time constant.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )


def _short(value: Tensor) -> str:
    values = ", ".join(f"{v:.4g}" for v in value.detach().reshape(-1)[:4].tolist())
    return values + (", ..." if value.numel() > 4 else "")


def user_stacklevel() -> int:
    """The ``stacklevel`` of a warning that points at the first frame outside torch, snnTorch and this package."""
    skip = tuple(package.__path__[0] for package in (torch, snn, sys.modules["snntorch_tssl"]))
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(skip):
        frame, level = frame.f_back, level + 1
    return level


@torch.compiler.disable
def check_time_constant_once(neuron: nn.Module, args: tuple) -> None:
    """Forward pre-hook that compares an explicit ``tau_s`` with the neuron's own at its first call, then
    removes itself (the neuron's time constant is not known yet when it registers its spike_grad)."""
    for key, hook in list(neuron._forward_pre_hooks.items()):
        if hook is check_time_constant_once:
            del neuron._forward_pre_hooks[key]
    rule = neuron.spike_grad
    alpha = getattr(neuron, "alpha", None)
    if isinstance(rule, nn.Module) and hasattr(rule, "options") and isinstance(alpha, Tensor):
        check_tau_s(neuron, rule.options, 1.0 / (1.0 - alpha.detach().clamp(0, 1)))


class _Call:
    """One call of a bound neuron in progress: what its rule calls have found so far."""

    __slots__ = ("neuron", "calls", "mem_in", "reset_in", "link_in", "psc_in", "mem", "spike", "step")

    def __init__(self, neuron: nn.Module) -> None:
        self.neuron = neuron
        self.calls = 0
        self.mem_in: Tensor | None = None
        self.reset_in: Tensor | None = None
        self.spike: Tensor | None = None
        self.link_in: Tensor | None = None
        self.psc_in: Tensor | None = None
        self.mem: Tensor | None = None
        self.step: _Carry | None = None


class _Carry(NamedTuple):
    """What a step hands to the next one, attached to the membrane it returns."""

    psc: Tensor
    link: Tensor | None


@torch.compiler.disable
def _open_call(neuron: nn.Module, args: tuple) -> None:
    _call_stack().append(_Call(neuron))


@torch.compiler.disable
def _close_call(neuron: nn.Module, args: tuple, output):
    stack = _call_stack()
    if not stack or stack[-1].neuron is not neuron:
        return None
    call = stack.pop()
    if call.step is None:
        return None
    return _leave_step(call, output)


def current_call(rule: nn.Module) -> _Call | None:
    """The call of a neuron whose spike_grad is ``rule`` in progress on this thread, if any."""
    stack = _call_stack()
    if stack and stack[-1].neuron.spike_grad is rule:
        return stack[-1]
    return None


def _pattern_error(neuron: nn.Module, detail: str) -> RuntimeError:
    return RuntimeError(
        f"snn.{type(neuron).__name__} (snnTorch {snn.__version__}) called spike_grad in a way tssl() does not know: "
        f"{detail}. tssl() supports the call pattern of snnTorch {', '.join(v + 'x' for v in SNNTORCH_VERSIONS)}."
    )


# --------------------------------------------------------------------------
# Step neurons: the rule's two calls per step and the neuron's return.
# --------------------------------------------------------------------------


def warm_psc_constants(
    neuron: nn.Module, options: _math.TSSLOptions, like: Tensor
) -> tuple[Tensor | float, Tensor | float, Tensor | float]:
    """Decay :math:`1 - 1/\\tau_s` and gain :math:`1/\\tau_s` of the warm-up PSC, and its threshold
    :math:`1 / (4 \\tau_s)`, with :math:`\\tau_s` the rule's if it has one, else the neuron's synaptic time
    constant (then the decay is the neuron's :math:`\\alpha`), else :data:`TAU_S_WITHOUT_SYNAPSE`."""
    if options.tau_s is None and isinstance(neuron, (snn.Synaptic, snn.RSynaptic)):
        decay = neuron.alpha.detach().clamp(0, 1).to(like)
        gain = 1.0 - decay
        return decay, gain, 0.25 * gain
    tau_s = TAU_S_WITHOUT_SYNAPSE if options.tau_s is None else options.tau_s
    decay = 1.0 - 1.0 / tau_s
    return decay, 1.0 - decay, 0.25 / tau_s


def with_warmup_width(options: _math.TSSLOptions, has_synapse: bool) -> _math.TSSLOptions:
    """``options`` with the rule's warm-up width, else :data:`WARMUP_WIDTH_WITH_SYNAPSE` in a neuron with a
    synapse and :data:`WARMUP_WIDTH_WITHOUT_SYNAPSE` in one without."""
    if options.warmup_width is not None:
        return options
    return options._replace(warmup_width=WARMUP_WIDTH_WITH_SYNAPSE if has_synapse else WARMUP_WIDTH_WITHOUT_SYNAPSE)


def neuron_leak(neuron: nn.Module) -> Tensor:
    """The membrane's leak :math:`\\ell` in :math:`u[t] = \\ell\\, \\hat u[t-1] + \\dots`, detached."""
    if isinstance(neuron, snn.Lapicque):
        return 1.0 - neuron.time_step / (neuron.R * neuron.C)
    return neuron.beta.detach().clamp(0, 1)


def step_call(rule: nn.Module, call: _Call, mem_shift: Tensor) -> Tensor:
    """A call of the rule inside a step neuron's forward: first on the previous membrane (reset), then on
    the new one (fire)."""
    neuron = call.neuron
    call.calls += 1
    spike = heaviside(mem_shift)
    if call.calls == 1:
        reason = settings_refusal(neuron)
        if reason is not None:
            raise NotImplementedError(reason)
        _enter(rule, call, neuron, spike)
        return spike
    if call.calls == 2:
        return _fire(rule, call, neuron, mem_shift, spike)
    raise _pattern_error(neuron, "more than two calls in one step (expected mem_reset, then fire)")


def _enter(rule: nn.Module, call: _Call, neuron: nn.Module, reset: Tensor) -> None:
    """First call: the membrane handed to the step; find what the step that returned it carries."""
    mem_in = neuron.mem
    carry = getattr(mem_in, "_tssl_carry", None)
    if carry is None:  # a detached copy of the membrane returned last (``mem = mem.detach()``) continues too
        carry = rule.last_membranes.recall(neuron, mem_in)
    call.mem_in, call.reset_in = mem_in, reset
    call.psc_in = None if carry is None else carry.psc
    if mem_in.requires_grad and torch.is_grad_enabled():
        call.link_in = None if carry is None else carry.link
        neuron.mem = _MembraneEntry.apply(mem_in)


def _fire(rule: nn.Module, call: _Call, neuron: nn.Module, mem_shift: Tensor, spike: Tensor) -> Tensor:
    """Second call: the spike of the new membrane, the step's autograd node, and what it hands on."""
    if call.mem_in is None:
        raise _pattern_error(neuron, "fire before mem_reset")
    mem = neuron.mem
    options = with_warmup_width(rule.options, isinstance(neuron, (snn.Synaptic, snn.RSynaptic)))
    decay, gain, warm_below = warm_psc_constants(neuron, options, spike)
    psc = spike * gain if call.psc_in is None else call.psc_in * decay + spike * gain
    call.spike, link = spike, None
    threshold = neuron.threshold
    learn_threshold = threshold if threshold.requires_grad else None
    if torch.is_grad_enabled() and (mem.requires_grad or call.link_in is not None or learn_threshold is not None):
        step = _StepContext(
            threshold=threshold.detach(),
            leak=neuron_leak(neuron),
            reset_mechanism=neuron.reset_mechanism,
            warm_below=warm_below if options.warmup else None,
            options=options,
            checks=rule.checks,
            layer=f"an snn.{type(neuron).__name__} layer of {'x'.join(map(str, spike.shape[1:])) or 1} neurons",
            neuron_id=id(neuron),
        )
        warm = None if step.warm_below is None else psc < step.warm_below
        spike, mem_out, link = _TSSLStep.apply(mem, call.mem_in, call.link_in, learn_threshold, spike, warm, step)
        neuron.mem = call.mem = mem_out
    else:
        call.mem = mem
    call.step = _Carry(psc, link)
    observer = getattr(_observers, "current", None)
    if observer is not None:
        threshold, mechanism = neuron.threshold.detach(), neuron.reset_mechanism
        previous = call.mem_in - _math.reset_removed(call.mem_in, call.reset_in, threshold, mechanism)
        warm = psc < warm_below if options.warmup else None
        observer(neuron, mem, previous, spike, warm, neuron_leak(neuron), threshold, mechanism, options)
    return spike


@contextlib.contextmanager
def observe_steps(observer: Callable | None) -> Iterator[None]:
    r"""While in the block, every step of a bound step neuron on this thread calls ``observer(neuron, u,
    u_hat_prev, s, warm, leak, V, reset_mechanism, options)`` with its membrane :math:`u[t]`, the previous
    membrane after reset :math:`\hat u[t-1]`, its spike, the warm-up mask (None: warm-up off), leak,
    threshold, reset mechanism and the rule's options. None observes nothing."""
    previous, _observers.current = getattr(_observers, "current", None), observer
    try:
        yield
    finally:
        _observers.current = previous


def _leave_step(call: _Call, output):
    """After the neuron's forward: replace a ``reset_delay=False`` reset, attach the carry to the membrane."""
    neuron = call.neuron
    mem_after = neuron.mem
    mem = call.mem
    if mem_after is not mem and mem.requires_grad and torch.is_grad_enabled():
        # snnTorch reset with the differentiable spike; rebuild it with the spike held constant (the rule
        # replaces the path through the spike).
        threshold = neuron.threshold if neuron.threshold.requires_grad else None
        do_reset = call.spike - call.reset_in  # as snnTorch's reset: no second reset of a reset membrane
        rebuilt = _ResetPath.apply(mem, threshold, mem_after.detach(), do_reset, neuron.reset_mechanism == "zero")
        neuron.mem = rebuilt
        if isinstance(output, tuple):
            output = tuple(rebuilt if item is mem_after else item for item in output)
        mem_after = rebuilt
    mem_after._tssl_carry = call.step
    neuron.spike_grad.last_membranes.remember(neuron, mem_after, call.step.psc)
    return output


class LastMembranes:
    """The membrane each neuron returned last, so that a detached copy of it continues the sequence.

    A returned membrane carries its step's hand-over as an attribute; ``mem.detach()`` makes a new
    tensor without it. This keeps, per neuron, a detached alias of the last returned membrane (which
    also holds its storage, so no other tensor can take its address) and the warm-up PSC of that step.
    Thread-safe; a rule's copy (pickle, deepcopy) starts empty.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def remember(self, neuron: nn.Module, mem: Tensor, psc: Tensor) -> None:
        with self._lock:
            self._last[neuron] = (mem.detach(), psc)

    def recall(self, neuron: nn.Module, mem: Tensor) -> _Carry | None:
        with self._lock:
            last = self._last.get(neuron)
        if last is None:
            return None
        alias, psc = last
        same = mem.data_ptr() == alias.data_ptr() and mem.shape == alias.shape and mem.stride() == alias.stride()
        return _Carry(psc, None) if same else None


_SOFTMAX_OVER_SPIKES = (
    "tssl(): the gradient that reaches the spikes of {where} sums to zero over its {neurons} neurons at every "
    "step, as a softmax cross-entropy over spikes gives (snntorch.functional.ce_rate_loss, ce_count_loss). "
    "TSSL-BP moves only the spikes there are and follows such a loss only in part: in snnTorch's tutorial 6 "
    "network it matches fast_sigmoid with the reset by subtraction (85-93 % at 5-25 steps, beta 0.8-0.95) but "
    "falls 15-25 points short with reset_mechanism='zero', and reaches 76 % against 94 % in tutorial 6 as "
    "written. Give this layer a surrogate (spike_grad=snntorch.surrogate.atan()) and keep tssl() in the layers "
    "before it (tutorial 6 as written: 92.6 % against fast_sigmoid's 93.8 %; with the reset to zero: "
    "91.5-94.0 % against 85.1-93.9 % at 5-25 steps), or train with a spike-count or spike-train loss "
    "(SF.mse_count_loss, snntorch_tssl.functional.van_rossum_loss)."
)


_SILENT_LAYER = (
    "tssl(): {where} has been nearly silent (fewer than 1 spike in 1,000 per neuron and step) in the last "
    "{steps} steps of its backward passes while the loss asks its spikes to change. TSSL-BP reaches a silent "
    "neuron only through the warm-up surrogate of the step it is on, not "
    "through the leak from later steps as a surrogate does, so a layer that training has silenced may not "
    "recover: on snnTorch's tutorial 5 network with snn.Synaptic(alpha=0.9) and the Van Rossum loss at 10 steps, "
    "tssl() reaches 47 % where atan() reaches 65 %. Give this layer a surrogate "
    "(spike_grad=snntorch.surrogate.atan()) with tssl() in the layers before it (there: 69 %; in snnTorch's "
    "tutorial 6 network with the count loss at 25 steps, where this fires: 82-87 % against tssl()'s 61-74 % and "
    "fast_sigmoid's 85 %), or let it fire more (a lower threshold, larger initial weights)."
)


_COLLAPSED_GRADIENT = (
    "tssl(): the gradient that reaches the spikes of {where} has fallen, in backward pass {passes}, below "
    "1/100 of its largest value in the passes before. TSSL-BP's gradient grows with the spikes (up to "
    "max_inv_du per spike) and is small for a silent neuron, so an optimizer step taken at a large gradient "
    "can silence the layers after this one and leave Adam's step sizes scaled to that gradient, tens of "
    "batches of nearly no change: in snnTorch's tutorial 6 network with the count loss at 5-10 steps, "
    "tssl(warmup_width=0.2) then reaches 50-81 % where fast_sigmoid reaches 77-87 % (tssl(), whose warm-up is "
    "wider in a neuron without a synapse, 76-87 %: there the warning can fire in runs that train). Clip the "
    "gradient norm before each optimizer step (torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0); with "
    "the width 0.2 there: 85-92 %). If a layer also stays silent (a warning says so), give it a surrogate "
    "instead, as that warning advises."
)


#: How many entries of a large tensor the silence check looks at (evenly spaced).
SAMPLE = 1 << 16


def sample(tensor: Tensor) -> Tensor:
    """Every k-th entry of ``tensor``, flattened (a view when possible), k = max(1, numel // SAMPLE): all of a
    small tensor, from :data:`SAMPLE` to 2 :data:`SAMPLE` entries of a large one."""
    flat = tensor.reshape(-1)
    return flat[:: max(1, flat.numel() // SAMPLE)]


class TrainingChecks:
    r"""Watches the gradients that reach the rule's spikes for the three setups TSSL-BP does not train well,
    and warns once for each.

    - A softmax over spikes: its gradient sums to zero over the neurons of a layer at every step
      (looked at in the first :attr:`SOFTMAX_CHECKS` backward steps of the rule, in evenly spaced rows
      of one step's and one sample's neurons, about :data:`SAMPLE` entries in all for large tensors).
    - A silent layer: a firing rate below :attr:`SILENT_RATE` over :attr:`SILENCE_STEPS` steps of one
      layer's backward passes while the gradient on its spikes is not zero (summed on the device for
      every pass, from about :data:`SAMPLE` evenly spaced entries of large tensors).
    - A gradient that has collapsed: in one of a layer's first :attr:`COLLAPSE_PASSES` backward passes,
      :math:`\max_t |\partial L / \partial s[t]|` below :attr:`COLLAPSE_RATIO` times its largest value in
      the passes before (a pass ends at the step whose incoming membrane has no gradient; a sequence
      neuron's call is one pass).

    Nothing runs while ``torch.compile`` traces, on the meta device or for an empty batch. The verdicts are read on the
    host without waiting for the device: on the CPU at once, on an accelerator from a non-blocking
    copy at a later call, once the copy has arrived.
    """

    SOFTMAX_CHECKS = 8
    SILENCE_STEPS = 256
    SILENT_RATE = 1e-3
    COLLAPSE_PASSES = 32
    COLLAPSE_RATIO = 1e-2

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._softmax_left = self.SOFTMAX_CHECKS
        self._silence: dict[object, tuple[Tensor, Tensor, int]] = {}  # layer -> (spikes, gradient, steps)
        # layer -> (largest of its earlier passes, largest of this pass so far, passes)
        self._collapse: dict[object, tuple[Tensor | None, Tensor | None, int]] = {}
        self._pending: list[tuple[object, Tensor, str, str]] = []  # (arrived, verdict, kind, message)
        self._warned: set[str] = set()

    def __call__(
        self,
        grad_spike: Tensor,
        rate: Callable[[], Tensor],
        where: str,
        layer: object,
        steps: int = 1,
        ends_pass: bool = True,
    ) -> None:
        """Look at one backward call of ``layer`` (``steps`` time steps; ``ends_pass``: the last call of
        the layer's backward pass); ``rate()`` is the layer's mean firing rate in them, a 0-dim tensor
        (only asked while the silence check runs)."""
        if grad_spike.device.type == "meta" or grad_spike.numel() == 0 or torch.compiler.is_compiling():
            return
        if self._pending:
            self._collect()
        neurons = grad_spike.shape[-1] if grad_spike.dim() >= 2 else 1
        if self._softmax_left > 0 and neurons >= 2 and "softmax" not in self._warned:
            with self._lock:
                self._softmax_left -= 1
            per_step = grad_spike.reshape(-1, neurons)
            per_step = per_step[:: max(1, per_step.shape[0] // max(1, SAMPLE // neurons))]  # whole rows
            size = per_step.abs().sum(-1)
            softmax_like = (size > 0).any() & (per_step.sum(-1).abs() <= 1e-4 * size).all()
            self._judge(softmax_like, "softmax", _SOFTMAX_OVER_SPIKES.format(where=where, neurons=neurons))
        largest = None if {"silence", "collapse"} <= self._warned else sample(grad_spike).abs().amax()
        if "silence" not in self._warned:
            with self._lock:
                zero = torch.zeros((), device=grad_spike.device)
                spikes, gradient, seen = self._silence.get(layer, (zero, zero, 0))
                spikes = spikes + rate() * steps
                gradient = gradient + largest
                seen += steps
                self._silence[layer] = (spikes, gradient, seen) if seen < self.SILENCE_STEPS else (zero, zero, 0)
            if seen >= self.SILENCE_STEPS:
                silent = (spikes < self.SILENT_RATE * seen) & (gradient > 0)
                self._judge(silent, "silence", _SILENT_LAYER.format(where=where, steps=seen))
        if "collapse" not in self._warned:
            self._check_collapse(largest, where, layer, ends_pass)

    def _check_collapse(self, largest: Tensor, where: str, layer: object, ends_pass: bool) -> None:
        with self._lock:
            peak, pass_max, passes = self._collapse.get(layer, (None, None, 0))
            if passes >= self.COLLAPSE_PASSES:
                return
            pass_max = largest if pass_max is None else torch.maximum(pass_max, largest)
            if not ends_pass:
                self._collapse[layer] = (peak, pass_max, passes)
                return
            self._collapse[layer] = (pass_max if peak is None else torch.maximum(peak, pass_max), None, passes + 1)
        if peak is not None:
            collapsed = pass_max < self.COLLAPSE_RATIO * peak
            self._judge(collapsed, "collapse", _COLLAPSED_GRADIENT.format(where=where, passes=passes + 1))

    def _judge(self, verdict: Tensor, kind: str, message: str) -> None:
        if verdict.device.type == "cpu":
            if verdict:
                self._warn(kind, message)
            return
        host = torch.empty((), dtype=torch.bool, pin_memory=True)
        host.copy_(verdict, non_blocking=True)
        arrived = torch.Event(verdict.device)
        arrived.record()
        with self._lock:
            self._pending.append((arrived, host, kind, message))

    def _collect(self) -> None:
        with self._lock:
            arrived, waiting = [], []
            for item in self._pending:
                (arrived if item[0].query() else waiting).append(item)
            self._pending = waiting
        for _, verdict, kind, message in arrived:
            if verdict and kind not in self._warned:
                self._warn(kind, message)

    def _warn(self, kind: str, message: str) -> None:
        with self._lock:
            if kind in self._warned:
                return
            self._warned.add(kind)
        warnings.warn(message, UserWarning, stacklevel=user_stacklevel())


class _StepContext(NamedTuple):
    threshold: Tensor
    leak: Tensor
    reset_mechanism: str
    warm_below: Tensor | None
    options: _math.TSSLOptions
    checks: TrainingChecks
    layer: str
    neuron_id: int


_NO_SECOND_DERIVATIVE = (
    "tssl() has no second derivative: TSSL-BP defines the gradient of the spikes, not its derivative. "
    "Differentiate through a neuron trained with tssl() once (no double backward through its gradients)."
)


def first_derivative_only(backward):
    """Decorate an autograd Function's backward: it runs without recording, and differentiating its result
    again raises a clear error (as ``torch.autograd.function.once_differentiable``, with the rule's message)."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        with torch.no_grad():
            outputs = backward(ctx, *grads)
        if not torch.is_grad_enabled():  # create_graph=False: nothing will differentiate these again
            return outputs
        error = torch._C._functions.DelayedError(_NO_SECOND_DERIVATIVE.encode(), len(outputs))
        return error(*[None if o is None else o.detach().requires_grad_() for o in outputs])

    return wrapper


class _TSSLStep(torch.autograd.Function):
    r"""One step of a stock neuron: spike, membrane and link forward; TSSL-BP's step backward.

    The membrane comes out as a copy (snnTorch detaches returned membranes in place, which a view
    would not allow). Saved: that copy, the membrane handed to the step (the step before's copy: the
    same storage) and the boolean warm-up mask. The spike is recomputed as snnTorch computes it,
    :math:`\mathbb{1}[u - V > 0]`.
    """

    @staticmethod
    def forward(ctx, mem, mem_in, link_in, threshold, spike, warm, step: _StepContext):
        ctx.set_materialize_grads(False)
        ctx.step = step
        ctx.has_mem_in = mem_in.requires_grad
        mem = mem.clone()
        ctx.save_for_backward(mem, mem_in, warm)
        return spike, mem, mem.new_zeros(()).expand(mem.shape)

    @staticmethod
    @first_derivative_only
    def backward(ctx, grad_spike, grad_mem, grad_link):
        mem, mem_in, warm = ctx.saved_tensors
        step: _StepContext = ctx.step
        options = step.options
        spike = _math.step_function(mem - step.threshold)
        if grad_spike is not None:
            step.checks(grad_spike, spike.mean, step.layer, step.neuron_id, ends_pass=not ctx.has_mem_in)
        reset_in = _math.step_function(mem_in - step.threshold)
        previous = mem_in - _math.reset_removed(mem_in, reset_in, step.threshold, step.reset_mechanism)
        warm = None if warm is None else warm.to(mem.dtype)
        grad_current, recursion, spike_derivative = _math.tssl_step_backward(
            grad_spike,
            grad_link,
            grad_mem,
            mem,
            previous,
            spike,
            warm,
            step.leak,
            step.threshold,
            step.reset_mechanism,
            options,
        )
        grad_mem_in = None
        if grad_mem is not None and ctx.has_mem_in:
            grad_mem_in = _math.reset_derivative(reset_in, step.reset_mechanism) * step.leak * grad_mem
        grad_threshold = None
        if ctx.needs_input_grad[3] and grad_spike is not None:
            grad_threshold = -spike_derivative * grad_spike
        link = recursion if ctx.needs_input_grad[2] else None
        return grad_current, grad_mem_in, link, grad_threshold, None, None, None


class _MembraneEntry(torch.autograd.Function):
    """Identity on the membrane handed to a step; snnTorch's path through it gets no gradient (the step's
    node sends the membrane stream back itself)."""

    @staticmethod
    def forward(ctx, mem: Tensor) -> Tensor:
        return mem.view_as(mem)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        return None


class _ResetPath(torch.autograd.Function):
    """snnTorch's ``reset_delay=False`` reset with the spike treated as a constant."""

    @staticmethod
    def forward(ctx, mem: Tensor, threshold: Tensor | None, mem_after_reset: Tensor, do_reset: Tensor, zero: bool):
        ctx.do_reset = do_reset
        ctx.zero = zero
        return mem_after_reset.clone()

    @staticmethod
    @first_derivative_only
    def backward(ctx, grad: Tensor):
        grad_mem = grad * (1.0 - ctx.do_reset) if ctx.zero else grad
        grad_threshold = None if ctx.zero or not ctx.needs_input_grad[1] else -ctx.do_reset * grad
        return grad_mem, grad_threshold, None, None, None


# --------------------------------------------------------------------------
# Sequence neurons (snn.StateLeaky, snn.LinearLeaky): the whole membrane at once, no reset.
# --------------------------------------------------------------------------


def sequence_call(rule: nn.Module, call: _Call, mem_shift: Tensor) -> Tensor:
    """The rule's one call in a sequence neuron's forward, on the membrane of the whole sequence."""
    neuron = call.neuron
    call.calls += 1
    if call.calls > 1:
        raise _pattern_error(neuron, "more than one call in one forward (expected fire on the whole sequence)")
    spike = heaviside(mem_shift)
    if not (torch.is_grad_enabled() and mem_shift.requires_grad):
        return spike
    steps = mem_shift.shape[0]
    if neuron.kernel_truncation_steps is not None and neuron.kernel_truncation_steps < steps:
        raise NotImplementedError(
            f"tssl() in snn.{type(neuron).__name__}(kernel_truncation_steps={neuron.kernel_truncation_steps}) over "
            f"{steps} steps: a truncated kernel is not a leaky integrator, which TSSL-BP's recursion needs. Leave "
            "kernel_truncation_steps=None (or at least the number of steps)."
        )
    options = with_warmup_width(rule.options, has_synapse=False)
    options = options._replace(tau_s=TAU_S_WITHOUT_SYNAPSE if options.tau_s is None else options.tau_s)
    leak = torch.exp(-1.0 / neuron.tau.detach())  # StateLeaky's kernel exp(-k / tau), one step of it
    return _TSSLSequenceNoReset.apply(mem_shift, spike, leak.to(mem_shift.dtype), options)


class _TSSLSequenceNoReset(torch.autograd.Function):
    r"""Spikes of a no-reset membrane :math:`u = \kappa * I` (a causal filter with
    :math:`\kappa[k] = \ell^k`); backward: the TSSL-BP gradient :math:`D = \partial L / \partial I` of
    the sequence, returned as the membrane gradient :math:`X[t] = D[t] - \ell D[t+1]`, whose transposed
    filter is :math:`D`. The threshold gets :math:`-\sum_t X[t]` through :math:`u - V`."""

    @staticmethod
    def forward(ctx, mem_shift, spike, leak, options):
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(mem_shift, leak)
        ctx.options = options
        return spike

    @staticmethod
    @first_derivative_only
    def backward(ctx, grad_spike):
        if grad_spike is None:
            return None, None, None, None
        mem_shift, leak = ctx.saved_tensors
        leak = leak.expand(mem_shift.shape[1:])
        grad_current = _math.tssl_sequence_backward(grad_spike, mem_shift, None, leak, 0.0, "none", ctx.options)
        grad_mem = grad_current.clone()
        grad_mem[:-1] -= leak * grad_current[1:]
        return grad_mem, None, None, None


# --------------------------------------------------------------------------
# Outside a neuron's step: a per-step surrogate.
# --------------------------------------------------------------------------


class _WarmupSurrogateSpike(torch.autograd.Function):
    """Heaviside forward, the warm-up derivative :math:`\\sigma'(x)` backward."""

    @staticmethod
    def forward(ctx, mem_shift: Tensor, width: float) -> Tensor:
        ctx.save_for_backward(mem_shift)
        ctx.width = width
        return heaviside(mem_shift)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (mem_shift,) = ctx.saved_tensors
        return grad * _math.warmup_surrogate(mem_shift, ctx.width), None


def surrogate_call(rule: nn.Module, mem_shift: Tensor) -> Tensor:
    """The rule called outside a bound neuron's step (``neuron.fire(x)``, a custom module, a bare call)."""
    if torch.is_grad_enabled() and mem_shift.requires_grad:
        warnings.warn(_OUTSIDE_A_STEP.format(where=_caller_name()), UserWarning, stacklevel=user_stacklevel())
        return _WarmupSurrogateSpike.apply(mem_shift, with_warmup_width(rule.options, has_synapse=False).warmup_width)
    return heaviside(mem_shift)


def _caller_name() -> str:
    stack = _call_stack()
    if stack:
        return f"inside snn.{type(stack[-1].neuron).__name__}, whose spike_grad is another rule"
    return "not within a bound neuron's forward, e.g. neuron.fire(x) or a module of your own"
