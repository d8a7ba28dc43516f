"""The TSSL-BP rule object: what ``spike_grad=tssl()`` hands to a neuron."""

from __future__ import annotations

import threading

import torch
from torch import Tensor, nn

from snntorch_tssl import _math
from snntorch_tssl._validation import check_bool, check_positive, check_time_constant
from snntorch_tssl.rules.protocol import LIFParameters
from snntorch_tssl.rules.tssl import binding
from snntorch_tssl.rules.tssl.sequence import tssl_sequence_forward


class TSSL(nn.Module):
    r"""TSSL-BP (Zhang & Li, NeurIPS 2020) as an snnTorch ``spike_grad``.

    The forward pass is the Heaviside step :math:`s = \mathbb{1}[u - V > 0]`.
    The backward pass does not use a spike derivative: it returns the
    spike-timing gradient of the neuron's input current :math:`I[t]`,

    .. math::
        G[t] &= m[t]\, g_s[t] + c[t]\, G[t+1], \qquad m[t] = s[t] \min(1/\Delta u[t], m_{max}), \\
        c[t] &= \beta \frac{\partial \hat u[t]}{\partial u[t]} + s[t]\, m[t]\, (1 - \beta)\, \rho[t], \\
        \frac{\partial L}{\partial I[t]} &= H[t] + \begin{cases}
            \sigma'(u[t] - V)\, g_s[t] & a[t] < 1/(4\tau_s) \text{ (warm-up)} \\
            G[t] & \text{otherwise}\end{cases}

    with :math:`\Delta u[t] = u[t] - \hat u[t-1]`, :math:`\rho = u - \hat u`
    what the reset removed, :math:`a` the PSC of the neuron's own spikes and
    :math:`H` the gradient that reaches the membrane itself (a membrane loss),
    carried back through the leak as every surrogate does.

    Neurons: ``snn.Leaky``, ``snn.Synaptic``, ``snn.RLeaky``, ``snn.RSynaptic``
    and ``snn.Lapicque`` stepped in a loop (every reset mechanism,
    ``init_hidden`` True or False, ``reset_delay`` True or False, graded
    spikes, learnable thresholds), ``snn.StateLeaky`` and ``snn.LinearLeaky``
    (whole sequences without reset), and :class:`snntorch_tssl.SynapticSequence`
    (whole sequences, fused backward). ``snn.Alpha``, ``snn.SLSTM``,
    ``snn.SConv2dLSTM``, ``snn.DeltaLeaky``, ``snn.LeakyParallel`` and
    neurons built with ``inhibition`` or ``state_quant`` raise
    ``NotImplementedError`` when they are built. Called outside a neuron's
    step (``neuron.fire(x)``, a module of your own), it is a per-step
    surrogate: Heaviside forward, :math:`\sigma'` backward, with a warning.

    :math:`\tau_s`: a neuron with a synaptic time constant (``snn.Synaptic``,
    ``snn.RSynaptic``, ``SynapticSequence``) gives its own,
    :math:`1/(1-\alpha)`, to a rule built without one; other neurons use 1
    step (their spikes are their output). An explicit ``tau_s`` wins, with a
    warning where it contradicts the neuron's. The warm-up width :math:`w`
    likewise: the paper's 0.2 with a synapse, 0.5 without one, unless given.

    One instance may serve any number of neurons, models and threads: a
    sequence's state travels with the membranes the neuron returns, not in the
    rule. A new sequence starts whenever the membrane handed to the neuron is
    not one it returned (``reset_mem()``, ``snntorch.utils.reset(net)``, fresh
    zeros, a batch of another size); ``detach_hidden()`` keeps the sequence
    (truncated BPTT) and cuts the gradient.

    The module has no parameters and no buffers: a state_dict of a model
    using it is interchangeable with the same model using any other
    ``spike_grad``; it pickles and deep-copies with the model. Building the
    first rule installs one PyTorch module-registration hook
    (``torch.nn.modules.module.register_module_module_registration_hook``),
    which is how a neuron learns that its ``spike_grad`` is a TSSL-BP rule.
    :func:`tssl` is the usual way to make one.

    Example::

        import snntorch as snn
        import torch
        from snntorch_tssl import TSSL

        rule = TSSL(warmup=False)  # the same as tssl(warmup=False)
        lif = snn.Leaky(beta=0.8, reset_mechanism="zero", spike_grad=rule)
        mem = lif.init_leaky()
        spk, mem = lif(torch.rand(8, 4) * 2, mem)
    """

    def __init__(
        self,
        tau_s: float | None = None,
        max_inv_du: float = 8.0,
        warmup: bool = True,
        warmup_width: float | None = None,
        reset_term: bool = True,
        warmup_keeps_timing: bool = False,
    ) -> None:
        super().__init__()
        self.options = _math.TSSLOptions(
            tau_s=None if tau_s is None else check_time_constant("tau_s", tau_s),
            max_inv_du=check_positive("max_inv_du", max_inv_du, allow_inf=True),
            warmup=check_bool("warmup", warmup),
            warmup_width=None if warmup_width is None else check_positive("warmup_width", warmup_width),
            reset_term=check_bool("reset_term", reset_term),
            warmup_keeps_timing=check_bool("warmup_keeps_timing", warmup_keeps_timing),
        )
        self._init_runtime_state()
        _install_registration_hook()

    def _init_runtime_state(self) -> None:
        """What the rule keeps while it runs, not copied by pickle or deepcopy: the membrane each neuron
        returned last (so that a detached copy of it continues the sequence) and its checks of the
        gradients for setups TSSL-BP does not train well."""
        self.last_membranes = binding.LastMembranes()
        self.checks = binding.TrainingChecks()

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("last_membranes", None)
        state.pop("checks", None)
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        for name in ("_bindings", "_active"):  # the per-neuron state of version 0.1.0's rule
            self.__dict__.pop(name, None)
        self._init_runtime_state()
        _install_registration_hook()

    @torch.compiler.disable
    def forward(self, mem_shift: Tensor) -> Tensor:
        call = binding.current_call(self)
        if call is None:
            return binding.surrogate_call(self, mem_shift)
        if isinstance(call.neuron, binding.SEQUENCE_NEURONS):
            return binding.sequence_call(self, call, mem_shift)
        return binding.step_call(self, call, mem_shift)

    def sequence_forward(
        self,
        input_: Tensor,
        neuron: LIFParameters,
        *,
        output: bool,
        backend: str = "auto",
        state: tuple | None = None,
    ) -> tuple[Tensor, Tensor | None, Tensor | None, tuple]:
        r"""The rule's sequence path: ``neuron`` over the whole ``input_`` with the O(T) TSSL-BP backward.

        A sequence neuron (:class:`snntorch_tssl.SynapticSequence`) calls this instead of stepping the
        rule; a third-party rule may offer the same method. :math:`\tau_s` is the rule's, else the
        neuron's synaptic time constant :math:`1 / (1 - \alpha)`.

        :param input_: the synapse's input :math:`X`, ``[T, B, ...]``
        :param neuron: the neuron's constants :math:`\alpha, \beta, V` (tensors of the input's dtype)
            and reset mechanism
        :param output: also return the synaptic current and the membrane after reset
        :param backend: "auto", "torch" or "triton" (see :class:`snntorch_tssl.SynapticSequence`)
        :param state: the state to start from (the neuron's; None: at rest)
        :return: ``(spk, syn, mem, final)``; ``syn`` and ``mem`` are None unless ``output``, ``final`` is
            the state after the last step
        """
        return tssl_sequence_forward(
            input_, neuron, self.options, output=output, backend=backend, state=state, checks=self.checks
        )

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value}" for key, value in self.options._asdict().items())


_hook_lock = threading.Lock()
_hook_handle = None


def _bind_on_registration(module: nn.Module, name: str, submodule: nn.Module | None) -> None:
    """Module-registration hook: a neuron that takes a TSSL-BP rule as ``spike_grad`` is bound to it."""
    if name == "spike_grad" and isinstance(submodule, TSSL):
        binding.bind(module, submodule)


def _install_registration_hook() -> None:
    """Install :func:`_bind_on_registration` once per process (the first rule built does it)."""
    global _hook_handle
    if _hook_handle is None:
        with _hook_lock:
            if _hook_handle is None:
                _hook_handle = torch.nn.modules.module.register_module_module_registration_hook(_bind_on_registration)


def tssl(
    tau_s: float | None = None,
    max_inv_du: float = 8.0,
    warmup: bool = True,
    warmup_width: float | None = None,
    reset_term: bool = True,
    warmup_keeps_timing: bool = False,
) -> TSSL:
    r"""Return the TSSL-BP rule, to pass as a neuron's ``spike_grad``.

    .. math::
        \frac{\partial L}{\partial I[t]} = H[t] + \begin{cases}
            \sigma'(u[t] - V)\, g_s[t] & \text{warm-up step} \\
            G[t] = m[t]\, g_s[t] + c[t]\, G[t+1] & \text{otherwise}\end{cases}

    (see :class:`TSSL`). Works in stock ``snn.Leaky``, ``snn.Synaptic``,
    ``snn.RLeaky``, ``snn.RSynaptic``, ``snn.Lapicque`` stepped in a loop,
    in ``snn.StateLeaky`` and ``snn.LinearLeaky``, and in
    :class:`snntorch_tssl.SynapticSequence`.

    :param tau_s: synaptic time constant (in steps, >= 1) of the warm-up PSC test :math:`a[t] < 1/(4\tau_s)`;
        None (default): the neuron's own (:math:`1/(1-\alpha)` of a synaptic neuron, else 1)
    :param max_inv_du: upper bound :math:`m_{max}` of :math:`1/\Delta u`
    :param warmup: use the warm-up surrogate on steps with a small output PSC;
        ``False`` is strictly surrogate-free (a silent neuron gets no gradient)
    :param warmup_width: width :math:`w` of the warm-up surrogate; None (default): the paper's 0.2 in a
        neuron with a synapse, 0.5 in one without (where every silent step is a warm-up step)
    :param reset_term: keep the intra-neuron (reset) term of the recursion
    :param warmup_keeps_timing: a warm-up step adds the warm-up value to :math:`G[t]` instead of
        replacing it, so inputs on silent steps before a spike get that spike's timing gradient
        (recommended for neurons without a synapse, such as ``snn.Leaky``, over many steps: there
        every silent step is a warm-up step)

    Example::

        import snntorch as snn
        import torch
        from snntorch_tssl import tssl

        lif = snn.Leaky(beta=0.8, reset_mechanism="zero", spike_grad=tssl())
        x = torch.rand(25, 8, 100, requires_grad=True) * 2  # [T, B, F]
        mem = lif.reset_mem()
        spikes = []
        for step in x:
            spk, mem = lif(step, mem)
            spikes.append(spk)
        torch.stack(spikes).sum().backward()
    """
    return TSSL(tau_s, max_inv_du, warmup, warmup_width, reset_term, warmup_keeps_timing)
