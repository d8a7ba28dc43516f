"""The paper's neuron as a sequence-mode snnTorch neuron."""

from __future__ import annotations

from collections.abc import Callable

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


def _surrogate_sequence(
    current: Tensor, beta: Tensor, threshold: Tensor, reset_mechanism: str, spike_grad: Callable[[Tensor], Tensor]
) -> tuple[Tensor, Tensor]:
    """LIF stepped with autograd through a per-step surrogate (BPTT, reset not detached)."""
    spikes, mems = [], []
    mem_after_reset = torch.zeros_like(current[0])
    for step in current.unbind(0):  # unbind: its backward stacks the step gradients once
        mem = beta * mem_after_reset + step
        spike = spike_grad(mem - threshold).to(current.dtype)
        mem_after_reset = mem - _math.reset_removed(mem, spike, threshold, reset_mechanism)
        spikes.append(spike)
        mems.append(mem_after_reset)
    return torch.stack(spikes), torch.stack(mems)


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
    :param output: if True, return ``(spk, syn, mem)``, else only ``spk``

    Inputs: ``input_`` shaped ``[T, B, ...]`` (for example ``[T, B, F]`` or
    ``[T, B, C, H, W]``), the weighted input spikes or currents.

    Outputs: ``spk`` ``[T, B, ...]``; with ``output=True`` also the synaptic
    current ``syn`` :math:`I` and the membrane after reset ``mem`` :math:`\hat U`.

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
    ) -> None:
        alpha = _decay_from("alpha", alpha, "tau_s", tau_s, 3.0)
        beta = _decay_from("beta", beta, "tau_m", tau_m, 5.0)
        check_positive("threshold", threshold)
        check_choice("reset_mechanism", reset_mechanism, _math.RESET_MECHANISMS)
        check_bool("output", output)
        if spike_grad is None:
            spike_grad = tssl()
        elif isinstance(spike_grad, str):
            spike_grad = registry.get(spike_grad)
        if not callable(spike_grad):
            raise TypeError(
                f"spike_grad must be callable (e.g. tssl() or snntorch.surrogate.atan()), got {spike_grad!r}"
            )
        super().__init__(
            beta=beta, threshold=threshold, spike_grad=spike_grad, reset_mechanism=reset_mechanism, output=output
        )
        self.register_buffer("alpha", torch.as_tensor(alpha))

    def forward(self, input_: Tensor) -> Tensor | tuple[Tensor, Tensor, Tensor]:
        check_sequence("input_", input_, min_dim=2)
        # float16/bfloat16 (also under autocast) are computed in float32: the threshold test and
        # 1/du need more than 8 or 11 mantissa bits. Outputs and gradients come back in the input's dtype.
        dtype = torch.promote_types(input_.dtype, torch.float32)
        x, alpha, beta, threshold = (
            input_.to(dtype),
            self.alpha.to(dtype),
            self.beta.to(dtype),
            self.threshold.to(dtype),
        )
        sequence_forward = getattr(self.spike_grad, "sequence_forward", None)
        if sequence_forward is not None:  # the rule runs the whole sequence itself (e.g. TSSL-BP's O(T) backward)
            neuron = LIFParameters(alpha, beta, threshold, self.reset_mechanism)
            spk, syn, mem = sequence_forward(x, neuron, output=self.output)
        else:
            syn = _math.exponential_filter(x, alpha)
            spk, mem = _surrogate_sequence(syn, beta, threshold, self.reset_mechanism, self.spike_grad)
        spk = spk.to(input_.dtype)
        if self.output:
            return spk, syn.to(input_.dtype), mem.to(input_.dtype)
        return spk

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
            f"reset_mechanism={self.reset_mechanism!r}"
        )
