"""The TSSL-BP read-out: the class whose output PSC has the largest sum over time."""

from __future__ import annotations

from torch import Tensor

from snntorch_tssl import _math
from snntorch_tssl._validation import check_labels, check_spike_output, check_time_constant


def accuracy_psc(spk_out: Tensor, targets: Tensor, tau: float = 3.0) -> Tensor:
    r"""Fraction of samples whose largest summed output PSC is at the label neuron.

    .. math::
        \hat y_b = \arg\max_c \sum_{t=0}^{T-1} (\kappa * S^{out})[t, b, c]
                 = \arg\max_c \sum_{t=0}^{T-1} S^{out}[t, b, c]
                   \Big(1 - \big(1 - \tfrac{1}{\tau}\big)^{T - t}\Big)

    with the normalised kernel :math:`\kappa[k] = \frac{1}{\tau}(1 - \frac{1}{\tau})^k`.

    How it differs from ``snntorch.functional.accuracy_rate``: that one takes
    the argmax of the plain spike count :math:`\sum_t S^{out}[t]`, so every
    spike weighs 1. Here a spike at step :math:`t` weighs
    :math:`1 - (1 - 1/\tau)^{T - t}`, less the later it comes: early spikes
    count more, two neurons with the same count are told apart by their
    timing, and graded outputs are weighted the same way. With
    ``tau = 1`` the weights are all 1 and the two read-outs agree (up to how
    ties are broken: here the lowest index wins).

    :param spk_out: output spikes ``[T, B, C]``
    :param targets: integer labels ``[B]`` (any integer dtype)
    :param tau: PSC kernel time constant :math:`\tau \ge 1` in steps (the network's :math:`\tau_s`)
    :return: the accuracy in [0, 1] as a 0-dim float tensor on the device of ``spk_out``. It is not
        read on the host, so the call does not wait for the device; ``float(acc)`` (or ``acc.item()``)
        reads it when you need the number, and sums of several batches can stay on the device.

    Example::

        import torch
        import snntorch_tssl.functional as TF

        spk_out = torch.zeros(5, 2, 3)
        spk_out[0, 0, 1] = 1  # sample 0: one early spike on neuron 1
        spk_out[4, 0, 2] = 1  # ... and one late spike on neuron 2
        acc = TF.accuracy_psc(spk_out, torch.tensor([1, 0]), tau=3.0)  # tensor(1.): both correct
        print(f"accuracy {float(acc):.2f}")
    """
    check_spike_output("spk_out", spk_out)
    check_time_constant("tau", tau)
    targets = check_labels("targets", targets, spk_out.shape[2], batch=spk_out.shape[1])
    score = _math.psc_filter_forward(spk_out.detach(), tau).sum(dim=0)
    return (score.argmax(dim=1) == targets).float().mean()
