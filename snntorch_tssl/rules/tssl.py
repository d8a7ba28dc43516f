"""The TSSL-BP rule object: what ``spike_grad=tssl()`` hands to a neuron."""

from __future__ import annotations

from torch import Tensor, nn

from snntorch_tssl import _math
from snntorch_tssl._validation import check_bool, check_positive


class TSSL(nn.Module):
    r"""TSSL-BP (Zhang & Li, NeurIPS 2020) as an snnTorch ``spike_grad``.

    The forward pass is the Heaviside step :math:`s = \mathbb{1}[u - V > 0]`.
    The backward pass replaces the spike derivative by the spike-timing
    gradient of :func:`snntorch_tssl._math.tssl_sequence_backward`:

    .. math::
        G[t] = m[t]\, g_s[t] + c[t]\, G[t+1], \qquad
        m[t] = s[t] \min(1/\Delta u[t], m_{max})

    with a warm-up surrogate on steps where the neuron's output PSC is below
    :math:`1/(4\tau_s)`. The rule needs the neuron's whole trajectory, so it
    only works inside a neuron that owns it (:class:`SynapticSequence`).

    The module has no parameters and no buffers: a state_dict of a model
    using it is interchangeable with the same model using any other
    ``spike_grad``. :func:`tssl` is the usual way to make one.

    Example::

        import torch
        from snntorch_tssl import TSSL, SynapticSequence

        rule = TSSL(tau_s=3.0, warmup=False)  # the same as tssl(tau_s=3.0, warmup=False)
        spk = SynapticSequence(tau_s=3.0, tau_m=5.0, spike_grad=rule)(torch.rand(5, 2, 4) * 3)
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
            tau_s=check_positive("tau_s", tau_s),
            max_inv_du=check_positive("max_inv_du", max_inv_du, allow_inf=True),
            warmup=check_bool("warmup", warmup),
            warmup_width=check_positive("warmup_width", warmup_width),
            reset_term=check_bool("reset_term", reset_term),
        )

    def forward(self, mem_shift: Tensor) -> Tensor:
        raise RuntimeError(
            "tssl() is a spike_grad for a neuron, not a function of a bare tensor: "
            "TSSL-BP needs the neuron's membrane trajectory. Pass it to a neuron, e.g. "
            "snntorch_tssl.SynapticSequence(tau_s=3.0, tau_m=5.0, spike_grad=tssl())."
        )

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value}" for key, value in self.options._asdict().items())


def tssl(
    tau_s: float = 3.0,
    max_inv_du: float = 8.0,
    warmup: bool = True,
    warmup_width: float = 0.2,
    reset_term: bool = True,
) -> TSSL:
    r"""Return the TSSL-BP rule, to pass as a neuron's ``spike_grad``.

    :param tau_s: synaptic time constant of the warm-up PSC test :math:`a[t] < 1/(4\tau_s)`
    :param max_inv_du: upper bound :math:`m_{max}` of :math:`1/\Delta u`
    :param warmup: use the warm-up surrogate on steps with a small output PSC;
        ``False`` is strictly surrogate-free (a silent neuron gets no gradient)
    :param warmup_width: width :math:`w` of the warm-up surrogate
    :param reset_term: keep the intra-neuron (reset) term of the recursion

    Example::

        import torch
        from snntorch_tssl import SynapticSequence, tssl

        lif = SynapticSequence(tau_s=3.0, tau_m=5.0, spike_grad=tssl(tau_s=3.0))
        spk = lif(torch.rand(5, 8, 100) * 3)  # [T, B, F]
    """
    return TSSL(tau_s, max_inv_du, warmup, warmup_width, reset_term)
