"""The TSSL-BP rule object: what ``spike_grad=tssl()`` hands to a neuron."""

from __future__ import annotations

import weakref

import snntorch as snn
import torch
from torch import Tensor, nn

from snntorch_tssl import _math
from snntorch_tssl._validation import check_bool, check_positive, check_time_constant
from snntorch_tssl.rules.tssl.binding import NeuronBinding
from snntorch_tssl.rules.tssl.sequence import tssl_sequence_forward

#: Stock snnTorch neurons in which the rule runs exactly (step mode).
STOCK_NEURONS = (snn.Leaky, snn.Synaptic, snn.RLeaky, snn.RSynaptic)
#: Stock neurons whose membrane is not ``beta * u_hat + I``: the rule refuses them.
UNSUPPORTED_NEURONS = (snn.Alpha, snn.Lapicque)

_USAGE = (
    "tssl() is a spike_grad for a neuron, not a function of a bare tensor: TSSL-BP needs the neuron's "
    "membrane trajectory. Pass it to a neuron and call the neuron, e.g. "
    "snn.Leaky(beta=0.8, reset_mechanism='zero', spike_grad=tssl()) (also snn.Synaptic, snn.RLeaky, "
    "snn.RSynaptic) or snntorch_tssl.SynapticSequence(tau_s=3.0, tau_m=5.0, spike_grad=tssl())."
)


class TSSL(nn.Module):
    r"""TSSL-BP (Zhang & Li, NeurIPS 2020) as an snnTorch ``spike_grad``.

    The forward pass is the Heaviside step :math:`s = \mathbb{1}[u - V > 0]`.
    The backward pass does not use a spike derivative: it returns the
    spike-timing gradient of the neuron's input current :math:`I[t]`
    (:func:`snntorch_tssl._math.tssl_sequence_backward`),

    .. math::
        G[t] &= m[t]\, g_s[t] + c[t]\, G[t+1], \\
        m[t] &= s[t] \min(1/\Delta u[t], m_{max}), \\
        c[t] &= \beta \frac{\partial \hat u[t]}{\partial u[t]} + s[t]\, m[t]\, (1 - \beta)\, \rho[t]

    with :math:`\Delta u[t] = u[t] - \hat u[t-1]`, :math:`\rho = u - \hat u`
    what the reset removed, and :math:`\partial L / \partial I[t] = \sigma'(u[t] - V)\, g_s[t]`
    instead of :math:`G[t]` on warm-up steps, where the neuron's own output PSC
    is below :math:`1/(4\tau_s)`.

    It works inside stock ``snn.Leaky``, ``snn.Synaptic``, ``snn.RLeaky`` and
    ``snn.RSynaptic`` neurons stepped in a Python loop (every reset mechanism,
    ``init_hidden`` True or False, ``reset_delay`` True or False, graded
    spikes, learnable thresholds), and inside
    :class:`snntorch_tssl.SynapticSequence` (whole sequences, fused backward).
    ``snn.Alpha`` and ``snn.Lapicque`` raise ``NotImplementedError``.

    A neuron learns the rule when the rule becomes its ``spike_grad``
    submodule; one instance may serve several neurons (it keeps a separate
    state per neuron). A new sequence starts whenever the membrane handed to
    the neuron is not the one it returned last (``reset_mem()``,
    ``snntorch.utils.reset(net)``, fresh zeros, a batch of another size); the
    returned membrane, or a detached view of it (``detach_hidden()``,
    ``mem.detach()`` for truncated BPTT), continues it. Gradients that reach
    the membrane directly (membrane losses) are added to :math:`G`.

    The module has no parameters and no buffers: a state_dict of a model
    using it is interchangeable with the same model using any other
    ``spike_grad``; it pickles and deep-copies with the model. :func:`tssl`
    is the usual way to make one.

    Example::

        import snntorch as snn
        import torch
        from snntorch_tssl import TSSL

        rule = TSSL(tau_s=3.0, warmup=False)  # the same as tssl(tau_s=3.0, warmup=False)
        lif = snn.Leaky(beta=0.8, reset_mechanism="zero", spike_grad=rule)
        mem = lif.init_leaky()
        spk, mem = lif(torch.rand(8, 4) * 2, mem)
    """

    def __init__(
        self,
        tau_s: float = 3.0,
        max_inv_du: float = 8.0,
        warmup: bool = True,
        warmup_width: float = 0.2,
        reset_term: bool = True,
    ) -> None:
        super().__init__()
        self.options = _math.TSSLOptions(
            tau_s=check_time_constant("tau_s", tau_s),
            max_inv_du=check_positive("max_inv_du", max_inv_du, allow_inf=True),
            warmup=check_bool("warmup", warmup),
            warmup_width=check_positive("warmup_width", warmup_width),
            reset_term=check_bool("reset_term", reset_term),
        )
        self._init_bindings()

    def _init_bindings(self) -> None:
        self._bindings: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._active: tuple[nn.Module, NeuronBinding] | None = None

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_bindings", None)
        state.pop("_active", None)
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._init_bindings()

    def attach(self, neuron: nn.Module) -> None:
        """Bind the rule to a stock neuron that registers it as its ``spike_grad`` (called automatically)."""
        if isinstance(neuron, UNSUPPORTED_NEURONS):
            if neuron in snn.SpikingNeuron.instances:  # the neuron is being constructed: it will not exist
                snn.SpikingNeuron.instances.remove(neuron)
            raise NotImplementedError(
                f"tssl() does not support snn.{type(neuron).__name__}: its membrane is not beta * u_hat + I, "
                "so TSSL-BP's spike-timing gradient is not defined for it. Use snn.Leaky, snn.Synaptic, "
                "snn.RLeaky, snn.RSynaptic or snntorch_tssl.SynapticSequence."
            )
        if not isinstance(neuron, STOCK_NEURONS):
            return
        for hook in neuron._forward_pre_hooks.values():
            if getattr(hook, "__self__", None) is self:
                return
        neuron.register_forward_pre_hook(self._begin_step)
        neuron.register_forward_hook(self._end_step, always_call=True)

    @torch.compiler.disable
    def _begin_step(self, neuron: nn.Module, args: tuple) -> None:
        if neuron.spike_grad is not self:
            return
        for flag in ("inhibition", "state_quant"):
            if getattr(neuron, flag):
                raise NotImplementedError(
                    f"tssl() does not support snn.{type(neuron).__name__}({flag}=...): "
                    f"TSSL-BP needs the spike to be 1[mem > threshold] of the stored membrane"
                )
        binding = self._bindings.get(neuron)
        if binding is None:
            binding = self._bindings[neuron] = NeuronBinding()
        binding.phase = 0
        self._active = (neuron, binding)

    @torch.compiler.disable
    def _end_step(self, neuron: nn.Module, args: tuple, output):
        active = self._active
        if active is None or active[0] is not neuron:
            return None
        self._active = None
        return active[1].leave(neuron, output)

    @torch.compiler.disable
    def forward(self, mem_shift: Tensor) -> Tensor:
        active = self._active
        if active is None:
            raise RuntimeError(_USAGE)
        neuron, binding = active
        binding.phase += 1
        if binding.phase == 1:
            return binding.enter(neuron, mem_shift)
        if binding.phase == 2:
            return binding.fire(neuron, mem_shift, self.options)
        raise RuntimeError(
            f"tssl() was called more than twice in one step of snn.{type(neuron).__name__}; it supports neurons "
            "that call spike_grad once on the previous membrane (reset) and once on the new one (fire)."
        )

    def sequence_forward(
        self,
        input_: Tensor,
        neuron: _math.LIFParameters,
        *,
        output: bool,
        backend: str = "auto",
        state: tuple | None = None,
    ) -> tuple[Tensor, Tensor | None, Tensor | None, tuple | None]:
        """The rule's sequence path: ``neuron`` over the whole ``input_`` with the O(T) TSSL-BP backward.

        A sequence neuron (:class:`snntorch_tssl.SynapticSequence`) calls this instead of stepping
        the rule; see :func:`snntorch_tssl.rules.tssl.sequence.tssl_sequence_forward`.
        """
        return tssl_sequence_forward(input_, neuron, self.options, output=output, backend=backend, state=state)

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value}" for key, value in self.options._asdict().items())


def _bind_on_registration(module: nn.Module, name: str, submodule: nn.Module | None) -> None:
    """Global module-registration hook: a neuron that takes a TSSL rule as ``spike_grad`` is bound to it."""
    if name == "spike_grad" and isinstance(submodule, TSSL):
        submodule.attach(module)


torch.nn.modules.module.register_module_module_registration_hook(_bind_on_registration)


def tssl(
    tau_s: float = 3.0,
    max_inv_du: float = 8.0,
    warmup: bool = True,
    warmup_width: float = 0.2,
    reset_term: bool = True,
) -> TSSL:
    r"""Return the TSSL-BP rule, to pass as a neuron's ``spike_grad``.

    .. math::
        \frac{\partial L}{\partial I[t]} = G[t] = m[t]\, g_s[t] + c[t]\, G[t+1]
        \quad (\text{or } \sigma'(u[t] - V)\, g_s[t] \text{ on warm-up steps})

    (see :class:`TSSL`). Works in stock ``snn.Leaky``, ``snn.Synaptic``,
    ``snn.RLeaky``, ``snn.RSynaptic`` stepped in a loop, and in
    :class:`snntorch_tssl.SynapticSequence`.

    :param tau_s: synaptic time constant (in steps, >= 1) of the warm-up PSC test :math:`a[t] < 1/(4\tau_s)`
    :param max_inv_du: upper bound :math:`m_{max}` of :math:`1/\Delta u`
    :param warmup: use the warm-up surrogate on steps with a small output PSC;
        ``False`` is strictly surrogate-free (a silent neuron gets no gradient)
    :param warmup_width: width :math:`w` of the warm-up surrogate
    :param reset_term: keep the intra-neuron (reset) term of the recursion

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
    return TSSL(tau_s, max_inv_du, warmup, warmup_width, reset_term)
