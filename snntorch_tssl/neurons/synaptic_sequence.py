"""The paper's neuron as a sequence-mode snnTorch neuron."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from snntorch import LIF
from torch import Tensor

from snntorch_tssl import _math
from snntorch_tssl._validation import (
    check_bool,
    check_choice,
    check_in_range,
    check_positive,
    check_sequence,
    check_time_constant,
)
from snntorch_tssl.rules import registry
from snntorch_tssl.rules.protocol import LIFParameters
from snntorch_tssl.rules.tssl import tssl


class SynapticOutput(NamedTuple):
    r"""What :class:`SynapticSequence` returns with ``output=True``: the spikes :math:`S`, the synaptic
    current :math:`I` and the membrane after reset :math:`\hat U`, each ``[T, B, ...]``.

    A named tuple, so it unpacks as ``spk, syn, mem`` and its fields have names. With ``output=False``
    the neuron returns the spike tensor itself; Python unpacks a tensor along its first axis, so
    ``spk, syn, mem = neuron(x)`` without ``output=True`` would split a 3-step sequence into its
    steps: ask for ``output=True`` to get three tensors.

    Example::

        import torch
        from snntorch_tssl import SynapticSequence

        out = SynapticSequence(output=True)(torch.rand(5, 2, 10) * 3)
        spk, syn, mem = out  # or out.spk, out.syn, out.mem, each [5, 2, 10]
    """

    spk: Tensor
    syn: Tensor
    mem: Tensor


class SynapticState(NamedTuple):
    r"""The state of a :class:`SynapticSequence` where a sequence ends and the next chunk continues:
    each field is shaped like one step ``[B, ...]``, or None for zero (at rest).

    - ``syn``: the synaptic current :math:`I[T-1]`;
    - ``mem``: the membrane after reset :math:`\hat U[T-1]`;
    - ``psc``: the neuron's own PSC :math:`a[T-1]`, :math:`a[t] = a[t-1] + (S[t] - a[t-1]) / \tau_s`,
      the trace behind TSSL-BP's warm-up (kept by rules that use it, passed through by the others);
    - ``timing``: zeros whose gradient is TSSL-BP's spike-timing recursion :math:`G` at the
      boundary, so that the recursion reaches the chunks before (None for the other rules).

    Chained calls ``spk, state = neuron(x_chunk, state)`` give bit for bit the spikes of one call
    over the whole sequence and, while the states are not detached, its gradients; detach them
    (:meth:`detach`) for truncated backpropagation through time. The tensors are in the neuron's
    computation dtype (float32 for float16/bfloat16 inputs).

    Example::

        import torch
        from torch import nn
        from snntorch_tssl import SynapticSequence

        linear, neuron = nn.Linear(10, 10), SynapticSequence()
        state = neuron.init_synaptic()  # at rest
        for chunk in torch.rand(20, 4, 10).mul(3).split(5):  # [T=20, B=4, F=10] in chunks of 5 steps
            spk, state = neuron(linear(chunk), state)
            spk.sum().backward()  # truncated BPTT: gradients within the chunk
            state = state.detach()
    """

    syn: Tensor | None = None
    mem: Tensor | None = None
    psc: Tensor | None = None
    timing: Tensor | None = None

    def detach(self) -> SynapticState:
        """The same state cut from the autograd graph (truncated backpropagation through time)."""
        return SynapticState(*(None if value is None else value.detach() for value in self))


def _stepped_sequence(
    input_: Tensor, neuron: LIFParameters, spike_grad: Callable[[Tensor], Tensor], state: tuple | None
) -> tuple[Tensor, Tensor, Tensor, tuple | None]:
    """Synapse and LIF stepped with autograd through a per-step ``spike_grad`` (BPTT, reset not detached)."""
    syn0, mem0, psc, timing = (None,) * 4 if state is None else state
    syn = _math.exponential_filter(input_, neuron.alpha, syn0)
    spikes, mems = [], []
    mem_after_reset = torch.zeros_like(syn[0]) if mem0 is None else mem0
    for step in syn.unbind(0):  # unbind: its backward stacks the step gradients once
        mem = neuron.beta * mem_after_reset + step
        spike = spike_grad(mem - neuron.threshold).to(input_.dtype)
        mem_after_reset = mem - _math.reset_removed(mem, spike, neuron.threshold, neuron.reset_mechanism)
        spikes.append(spike)
        mems.append(mem_after_reset)
    final = None if state is None else (syn[-1], mem_after_reset, psc, timing)
    return torch.stack(spikes), syn, torch.stack(mems), final


def _decay_from(name: str, decay: float | None, tau_name: str, tau: float | None, default_tau: float) -> float:
    """Resolve a decay rate given either itself or its time constant (decay = 1 - 1/tau)."""
    if decay is not None and tau is not None:
        raise ValueError(
            f"{name} and {tau_name} must not both be given ({name} = 1 - 1/{tau_name}), got {name}={decay}, "
            f"{tau_name}={tau}"
        )
    if decay is not None:
        return check_in_range(name, decay, 0.0, 1.0, low_closed=True, high_closed=name == "beta")
    tau = default_tau if tau is None else check_time_constant(tau_name, tau, allow_inf=name == "beta")
    return 1.0 - 1.0 / tau


class SynapticSequence(LIF):
    r"""The TSSL-BP paper's neuron, run over a whole time-first sequence in one call.

    A normalised first-order synapse feeds a leaky integrate-and-fire neuron:

    .. math::
        I[t] &= \alpha I[t-1] + (1 - \alpha)\, X[t] \\
        U[t] &= \beta \hat U[t-1] + I[t], \qquad S[t] = \mathbb{1}[U[t] > U_{thr}] \\
        \hat U[t] &= U[t] - R[t]

    with :math:`R = S U` for reset "zero" (the paper's), :math:`S U_{thr}` for
    "subtract" and 0 for "none"; :math:`\alpha = 1 - 1/\tau_s`,
    :math:`\beta = 1 - 1/\tau_m`. The synapse sits in the receiving neuron:
    ``nn.Linear -> SynapticSequence`` is the paper's layer because the weight
    commutes with the filter.

    With the default ``spike_grad=tssl()`` the backward pass is the O(T)
    TSSL-BP rule over the whole sequence (one autograd node). Any other
    ``spike_grad`` (for example ``snntorch.surrogate.atan()``) gives exactly
    the gradients of the same neuron stepped with that surrogate, which are
    those of stock ``snn.Synaptic(..., reset_delay=False)`` fed
    :math:`(1-\alpha) X`.

    :param alpha: synaptic decay rate in [0, 1); or give ``tau_s``
    :param beta: membrane decay rate in [0, 1]; or give ``tau_m``
    :param tau_s: synaptic time constant in steps (>= 1; default 3 if neither given)
    :param tau_m: membrane time constant in steps (>= 1; default 5 if neither given)
    :param threshold: firing threshold :math:`U_{thr} > 0`
    :param spike_grad: gradient method: ``tssl()`` (default), any snnTorch surrogate, or a
        rule name of :func:`snntorch_tssl.rules.get` (e.g. ``"stbp-rectangular"``)
    :param reset_mechanism: "zero" (default), "subtract" or "none"
    :param output: if True, return a :class:`SynapticOutput` ``(spk, syn, mem)``, else the spike tensor
    :param init_hidden: if True, the neuron keeps its state from one call to the next (snnTorch's
        ``init_hidden``): each call continues the sequence where the last one ended, ``reset_mem()``
        starts a new one and ``SynapticSequence.detach_hidden()`` cuts the graph (truncated BPTT)
    :param backend: "auto" (default: Triton kernels for float32 CUDA tensors when triton imports,
        else PyTorch), "torch" or "triton"; the environment variable ``SNNTORCH_TSSL_BACKEND``
        sets the default. The backends give the same spikes and the same gradients to rounding.

    Inputs: ``input_`` shaped ``[T, B, ...]`` with at least one neuron dimension (for example
    ``[T, B, F]`` or ``[T, B, C, H, W]``), the weighted input spikes or currents. A 2-D tensor is
    refused: a per-step ``[B, F]`` tensor would otherwise be read as ``T = B`` steps; add the time
    axis (``x.unsqueeze(0)`` for one step) or, for one neuron per sample, the neuron axis
    (``x.unsqueeze(-1)``). Optionally ``state``, a :class:`SynapticState` to continue from
    (``init_synaptic()`` for the start of a sequence, or the state a previous call returned).

    Outputs: ``spk`` ``[T, B, ...]``; with ``output=True`` a :class:`SynapticOutput` that also holds
    the synaptic current ``syn`` :math:`I` and the membrane after reset ``mem`` :math:`\hat U`. When
    ``state`` is given: ``(out, final_state)``, the above and the :class:`SynapticState` after the
    last step. An empty batch (``B = 0`` or no neurons) gives empty outputs.

    Backends: ``"triton"`` runs each direction as one fused kernel launch per layer
    (neurons in parallel, time sequential inside the kernel) for ``tssl()`` and the surrogate
    rules with a sequence path (the four ``stbp()`` curves, and snnTorch's ``atan``,
    ``fast_sigmoid`` and ``sigmoid`` as :class:`~snntorch_tssl.rules.SnnTorchSurrogate`, e.g.
    ``spike_grad="atan"``); float64 inputs and other ``spike_grad`` callables use PyTorch.

    Precision: outputs and input gradients have the input's dtype and device.
    float32 and float64 inputs are computed in their own dtype; float16 and
    bfloat16 inputs (including those produced under ``torch.autocast``) are
    computed in float32 internally, so their spikes are exactly those of the
    float32 neuron on the same (rounded) input and their gradients are the
    float32 gradients rounded to the input dtype.

    Example::

        import torch
        from torch import nn
        from snntorch_tssl import SynapticSequence, tssl

        net = nn.Sequential(nn.Linear(784, 400, bias=False), SynapticSequence(tau_s=3.0, tau_m=5.0),
                            nn.Linear(400, 10, bias=False), SynapticSequence(tau_s=3.0, tau_m=5.0))
        spk_out = net(torch.rand(5, 32, 784))  # [T=5, B=32, 10]
    """

    def __init__(
        self,
        alpha: float | None = None,
        beta: float | None = None,
        *,
        tau_s: float | None = None,
        tau_m: float | None = None,
        threshold: float = 1.0,
        spike_grad: Callable[[Tensor], Tensor] | str | None = None,
        reset_mechanism: str = "zero",
        output: bool = False,
        init_hidden: bool = False,
        backend: str | None = None,
    ) -> None:
        alpha = _decay_from("alpha", alpha, "tau_s", tau_s, 3.0)
        beta = _decay_from("beta", beta, "tau_m", tau_m, 5.0)
        check_positive("threshold", threshold)
        check_choice("reset_mechanism", reset_mechanism, _math.RESET_MECHANISMS)
        check_bool("output", output)
        check_bool("init_hidden", init_hidden)
        backend = check_choice("backend", _math.default_backend() if backend is None else backend, _math.BACKENDS)
        if spike_grad is None:
            spike_grad = tssl()
        elif isinstance(spike_grad, str):
            spike_grad = registry.get(spike_grad)
        if not callable(spike_grad):
            raise TypeError(
                f"spike_grad must be callable (e.g. tssl() or snntorch.surrogate.atan()), got {spike_grad!r}"
            )
        super().__init__(
            beta=beta,
            threshold=threshold,
            spike_grad=spike_grad,
            reset_mechanism=reset_mechanism,
            output=output,
            init_hidden=init_hidden,
        )
        self.register_buffer("alpha", torch.as_tensor(alpha))
        self.backend = backend
        self.reset_mem()

    def forward(
        self, input_: Tensor, state: SynapticState | None = None
    ) -> Tensor | SynapticOutput | tuple[Tensor | SynapticOutput, SynapticState]:
        check_sequence("input_", input_, min_dim=2)
        if input_.dim() == 2:
            raise ValueError(
                f"input_ must be a sequence [T, B, ...] with at least one neuron dimension after the batch, got a "
                f"2-D tensor of shape {tuple(input_.shape)}, which would be read as T={input_.shape[0]} steps of "
                f"{input_.shape[1]} one-neuron samples. Give [T, B, F]: stack the steps (x.unsqueeze(0) for a single "
                "step [B, F]), or x.unsqueeze(-1) for one neuron per sample"
            )
        if self.init_hidden:
            if state is not None:
                raise TypeError(
                    "state must not be passed while init_hidden=True (the neuron keeps its own; reset_mem() starts "
                    f"a new sequence), got {type(state).__name__}"
                )
            initial = self._hidden
        else:
            initial = state
        if initial is not None:
            _check_state(initial, input_)
        # float16/bfloat16 (also under autocast) are computed in float32: the threshold test and
        # 1/du need more than 8 or 11 mantissa bits. Outputs and gradients come back in the input's dtype.
        dtype = torch.promote_types(input_.dtype, torch.float32)
        x = input_.to(dtype)
        neuron = LIFParameters(
            self.alpha.to(dtype), self.beta.to(dtype), self.threshold.to(dtype), self.reset_mechanism
        )
        start = None if initial is None else tuple(None if value is None else value.to(dtype) for value in initial)
        sequence_forward = getattr(self.spike_grad, "sequence_forward", None)
        result = None
        if sequence_forward is not None:  # the rule runs the whole sequence itself (e.g. TSSL-BP's O(T) backward)
            result = sequence_forward(x, neuron, output=self.output, backend=self.backend, state=start)
        if result is None:  # a per-step spike_grad: step it with autograd
            result = _stepped_sequence(x, neuron, self.spike_grad, start)
        spk, syn, mem, final = result
        out = spk.to(input_.dtype)
        if self.output:
            out = SynapticOutput(out, syn.to(input_.dtype), mem.to(input_.dtype))
        if self.init_hidden:
            self._hidden = SynapticState(*final)
            return out
        return out if state is None else (out, SynapticState(*final))

    def reset_mem(self) -> SynapticState:
        """Start a new sequence: the kept state (``init_hidden=True``) is set to rest, which is also returned.

        :return: :class:`SynapticState` at rest (every field None, i.e. zero)
        """
        self._hidden = SynapticState()
        return self._hidden

    def init_synaptic(self) -> SynapticState:
        """The state at rest to start a sequence with, as snnTorch's ``init_synaptic()`` (same as :meth:`reset_mem`)."""
        return self.reset_mem()

    @classmethod
    def detach_hidden(cls) -> None:
        """Cut the kept state of every ``SynapticSequence(init_hidden=True)`` from the autograd graph (truncated
        backpropagation through time), as snnTorch's ``detach_hidden``."""
        for neuron in cls.instances:
            if isinstance(neuron, SynapticSequence):
                neuron._hidden = neuron._hidden.detach()

    @classmethod
    def reset_hidden(cls) -> None:
        """Set the kept state of every ``SynapticSequence`` to rest, as snnTorch's ``reset_hidden``."""
        for neuron in cls.instances:
            if isinstance(neuron, SynapticSequence):
                neuron.reset_mem()

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        if "backend" not in self.__dict__:  # pickled by version 0.1.0, before backends and kept states
            self.backend = _math.default_backend()
            self.reset_mem()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        # As in stock snnTorch, whose neurons read the buffer, a loaded reset_mechanism_val sets the reset.
        names = list(self.reset_dict)
        value = self.reset_mechanism_val
        if value.numel() != 1 or not 0 <= int(value) < len(names):
            raise ValueError(
                f"{prefix}reset_mechanism_val must be a scalar integer in 0..{len(names) - 1} "
                f"({', '.join(f'{i}={n!r}' for i, n in enumerate(names))}), got {value!r}"
            )
        self._reset_mechanism = names[int(value)]

    def extra_repr(self) -> str:
        return (
            f"alpha={self.alpha.item():.4g}, beta={self.beta.item():.4g}, threshold={self.threshold.item():.4g}, "
            f"reset_mechanism={self.reset_mechanism!r}, backend={self.backend!r}"
        )


def _check_state(state: object, input_: Tensor) -> None:
    """A state to continue from: a :class:`SynapticState` whose tensors have one step's shape of ``input_``."""
    if not isinstance(state, SynapticState):
        raise TypeError(
            f"state must be a SynapticState (from init_synaptic() or a previous call), got {type(state).__name__}"
        )
    for name, value in zip(state._fields, state, strict=True):
        if value is None:
            continue
        if not isinstance(value, Tensor):
            raise TypeError(f"state.{name} must be a torch.Tensor or None, got {type(value).__name__}")
        if value.shape != input_.shape[1:] or value.device != input_.device:
            raise ValueError(
                f"state.{name} must have one step's shape {tuple(input_.shape[1:])} on {input_.device} (the "
                f"input's [B, ...]), got shape {tuple(value.shape)} on {value.device}; start a new sequence "
                "with init_synaptic() / reset_mem()"
            )
