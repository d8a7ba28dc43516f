"""Spike-sequence losses of TSSL-BP: the van Rossum distance and the count loss."""

from __future__ import annotations

import torch
from torch import Tensor

from snntorch_tssl import _math
from snntorch_tssl._validation import (
    check_choice,
    check_labels,
    check_real,
    check_same_shape,
    check_sequence,
    check_spike_output,
    check_time_constant,
)
from snntorch_tssl.spikegen import targets_spike_sequence

REDUCTIONS = ("mean", "sum", "none")


class _SpikeLoss:
    """Shared call protocol: ``loss_fn(spk_out [T, B, C], targets) -> loss``, reduced over the batch."""

    def __init__(self, tau: float, reduction: str) -> None:
        self.tau = check_time_constant("tau", tau)
        self.reduction = check_choice("reduction", reduction, REDUCTIONS)

    def __call__(self, spk_out: Tensor, targets: Tensor) -> Tensor:
        check_spike_output("spk_out", spk_out)
        per_sample = self._per_sample(spk_out, targets)  # [B]
        if self.reduction == "sum":
            return per_sample.sum()
        if self.reduction == "mean":
            return per_sample.mean()
        return per_sample

    def _per_sample(self, spk_out: Tensor, targets: Tensor) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={value!r}" for key, value in vars(self).items() if not key.startswith("_"))
        return f"{type(self).__name__}({fields})"


class van_rossum_loss(_SpikeLoss):
    r"""Van Rossum distance between output and target spike trains (TSSL-BP's loss).

    Both trains pass through the normalised exponential kernel
    :math:`\kappa[k] = \frac{1}{\tau}(1 - \frac{1}{\tau})^k` (the PSC filter of
    the paper's neuron) and the squared difference is summed over time and
    output neurons:

    .. math::
        L_b = \frac{1}{2} \sum_{t=0}^{T-1} \sum_{c} \big( (\kappa * S^{out})[t, b, c]
              - (\kappa * S^{target})[t, b, c] \big)^2

    reduced over the batch by ``reduction``: ``"sum"`` (the TSSL-BP authors'),
    ``"mean"`` (snnTorch's habit, :math:`\frac{1}{B}\sum_b L_b`) or ``"none"``
    (``[B]``). The filter is an O(T) recursion over time (the neuron's own
    synaptic filter) and its gradient the transposed filter, so
    :math:`\partial L / \partial S^{out} = \kappa^\top (\kappa * (S^{out} - S^{target}))`
    without any ``T x T`` matrix. The output may be graded or real-valued.

    The distance is measured in the window :math:`[0, T)`: a spike near its
    end is filtered over fewer steps, so it weighs less than an early one.

    :param tau: kernel time constant :math:`\tau \ge 1` in steps (use the
        network's synaptic :math:`\tau_s`)
    :param pattern: how integer labels become target trains; a name or 1-D
        tensor for :func:`snntorch_tssl.spikegen.targets_spike_sequence`
    :param reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``
    :param num_spikes: spike count of ``pattern="regular"``
    :param first_spike: first spike time of the ``"regular"`` patterns
    :param off_pattern: target pattern of the non-label neurons (default silent)
    :param off_num_spikes: spike count of ``off_pattern="regular"``

    Inputs: ``spk_out`` ``[T, B, C]``; ``targets`` either integer labels
    ``[B]`` (any integer dtype) or target spike trains ``[T, B, C]``.

    Example::

        import torch
        import snntorch_tssl.functional as TF

        loss_fn = TF.van_rossum_loss(tau=3.0, pattern="tssl", reduction="sum")
        spk_out = torch.randint(0, 2, (5, 4, 10)).float().requires_grad_()
        loss = loss_fn(spk_out, torch.tensor([1, 0, 9, 3]))
        loss.backward()
    """

    def __init__(
        self,
        tau: float = 3.0,
        pattern: str | Tensor = "tssl",
        reduction: str = "mean",
        *,
        num_spikes: int | None = None,
        first_spike: int = 0,
        off_pattern: str | Tensor = "silent",
        off_num_spikes: int | None = None,
    ) -> None:
        super().__init__(tau, reduction)
        self.pattern = pattern
        self.num_spikes = num_spikes
        self.first_spike = first_spike
        self.off_pattern = off_pattern
        self.off_num_spikes = off_num_spikes
        self.__name__ = "van_rossum_loss"

    def target_trains(self, spk_out: Tensor, targets: Tensor) -> Tensor:
        """Target spike trains ``[T, B, C]`` matching ``spk_out`` from labels ``[B]`` or trains."""
        if not isinstance(targets, Tensor):
            raise TypeError(f"targets must be a torch.Tensor (labels [B] or trains [T, B, C]), got {type(targets)}")
        steps, batch, classes = spk_out.shape
        if targets.dim() == 1:
            targets = check_labels("targets", targets, classes, batch=batch)
            return targets_spike_sequence(
                targets,
                classes,
                steps,
                self.pattern,
                num_spikes=self.num_spikes,
                first_spike=self.first_spike,
                off_pattern=self.off_pattern,
                off_num_spikes=self.off_num_spikes,
                dtype=spk_out.dtype,
            )
        if targets.dim() != 3:
            raise ValueError(f"targets must be labels [B] or spike trains [T, B, C], got shape {tuple(targets.shape)}")
        check_same_shape("targets", targets, "spk_out", spk_out, "TBC")
        trains = targets.to(spk_out.dtype)
        return check_sequence("targets", trains, min_dim=3, max_dim=3)

    def _per_sample(self, spk_out: Tensor, targets: Tensor) -> Tensor:
        difference = _math.psc_filter(spk_out - self.target_trains(spk_out, targets), self.tau)
        return 0.5 * difference.square().sum(dim=(0, 2))


class count_loss(_SpikeLoss):
    r"""TSSL-BP's spike-count loss (used for N-MNIST): one-sided errors of the summed output PSC.

    With :math:`a = \kappa * S^{out}` the output PSC and
    :math:`n_{b,c} = \sum_t a[t, b, c]`, the target :math:`d_{b,c}` is
    ``desired`` for the label neuron and ``undesired`` for the others, and

    .. math::
        \delta_{b,c} &= \frac{n_{b,c} - d_{b,c}}{T}, \quad \text{kept only if }
            \begin{cases} \delta < 0 & c = y_b \text{ (too few)} \\
                          \delta > 0 & c \neq y_b \text{ (too many)} \end{cases}
            \text{ (else 0)} \\
        L_b &= \frac{1}{2} \sum_{t=0}^{T-1} \sum_c \delta_{b,c}^2 = \frac{T}{2} \sum_c \delta_{b,c}^2

    so that :math:`\partial L_b / \partial a[t, b, c] = \delta_{b,c}` at every
    step, as in the authors' code. ``reduction`` as in :class:`van_rossum_loss`
    (the authors' is ``"sum"``).

    :param desired: target PSC sum of the label neuron (``>= undesired``)
    :param undesired: target PSC sum of the other neurons (``>= 0``)
    :param tau: PSC kernel time constant :math:`\tau \ge 1` in steps (the network's :math:`\tau_s`)
    :param reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``

    Inputs: ``spk_out`` ``[T, B, C]``; ``targets`` integer labels ``[B]`` (any integer dtype).

    Example::

        import torch
        import snntorch_tssl.functional as TF

        loss_fn = TF.count_loss(desired=15, undesired=3, tau=4.0, reduction="sum")
        spk_out = torch.randint(0, 2, (30, 4, 10)).float()
        loss = loss_fn(spk_out, torch.tensor([1, 0, 9, 3]))
    """

    def __init__(
        self, desired: float = 15.0, undesired: float = 3.0, tau: float = 3.0, reduction: str = "mean"
    ) -> None:
        super().__init__(tau, reduction)
        self.desired = check_real("desired", desired)
        self.undesired = check_real("undesired", undesired)
        if self.undesired < 0:
            raise ValueError(f"undesired must be a PSC count >= 0 (output PSCs are never negative), got {undesired}")
        if self.desired < self.undesired:
            raise ValueError(
                f"desired must be >= undesired (the label neuron should fire at least as much as the others), "
                f"got desired={desired}, undesired={undesired}"
            )
        self.__name__ = "count_loss"

    def _per_sample(self, spk_out: Tensor, targets: Tensor) -> Tensor:
        steps, batch, classes = spk_out.shape
        targets = check_labels("targets", targets, classes, batch=batch)
        count = _math.psc_filter(spk_out, self.tau).sum(dim=0)  # [B, C]
        is_label = targets[:, None] == torch.arange(classes, device=targets.device)  # [B, C]
        delta = (count - torch.where(is_label, self.desired, self.undesired)) / steps
        delta = torch.where(is_label, delta.clamp(max=0.0), delta.clamp(min=0.0))
        return 0.5 * steps * delta.square().sum(dim=1)
