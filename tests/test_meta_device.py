"""The hot path reads no tensor data on the host, so whole training steps run on the meta device.

A meta tensor has a shape and a dtype but no data: any ``.item()``, ``bool(tensor)``
or value-dependent Python branch in the neuron, the rule, the losses or the
read-out fails there. Running a model, its loss and the backward pass on
``meta`` therefore proves the step never makes the host wait for a device
(on CUDA the value checks are device-side asserts instead).
"""

from __future__ import annotations

import pytest
import snntorch as snn
import torch
from snntorch import surrogate
from torch import nn

import snntorch_tssl.functional as TF
from snntorch_tssl import FrameWise, SumPool2d, SynapticSequence, tssl
from snntorch_tssl.spikegen import targets_spike_sequence

META = torch.device("meta")
LOSSES = {
    "van_rossum": lambda: TF.van_rossum_loss(tau=3.0, reduction="sum"),
    "count": lambda: TF.count_loss(desired=3.0, undesired=1.0, tau=3.0),
}


def labels(dtype=torch.int64) -> torch.Tensor:
    return torch.empty(4, dtype=dtype, device=META)


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("spike_grad", [tssl, surrogate.atan], ids=["tssl", "atan"])
def test_linear_and_synaptic_sequence_train_on_meta(loss, spike_grad):
    net = nn.Sequential(
        FrameWise(nn.Conv2d(1, 2, 3, bias=False)),
        SynapticSequence(tau_s=3.0, tau_m=5.0, spike_grad=spike_grad()),
        FrameWise(SumPool2d(2)),
        nn.Flatten(start_dim=2),
        nn.Linear(8, 10, bias=False),
        SynapticSequence(tau_s=3.0, tau_m=5.0, spike_grad=spike_grad()),
    ).to(META)
    spk = net(torch.empty(5, 4, 1, 6, 6, device=META))
    assert spk.shape == (5, 4, 10) and spk.device == META
    value = LOSSES[loss]()(spk, labels(torch.int32))
    value.backward()
    assert all(p.grad is not None and p.grad.device == META for p in net.parameters())
    assert TF.accuracy_psc(spk, labels()).device == META


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_stock_leaky_with_tssl_trains_on_meta(loss):
    linear = nn.Linear(8, 10, bias=False).to(META)
    lif = snn.Leaky(beta=0.8, reset_mechanism="zero", spike_grad=tssl()).to(META)
    x = torch.empty(5, 4, 8, device=META)
    mem = lif.init_leaky()
    spikes = []
    for step in x:
        spk, mem = lif(linear(step), mem)
        spikes.append(spk)
    value = LOSSES[loss]()(torch.stack(spikes), labels(torch.uint8))
    value.backward()
    assert linear.weight.grad is not None and linear.weight.grad.device == META


def test_targets_from_labels_and_spike_train_targets_on_meta():
    target = targets_spike_sequence(labels(), 10, 5, "tssl")
    assert target.shape == (5, 4, 10) and target.device == META
    spk = torch.empty(5, 4, 10, device=META, requires_grad=True)
    TF.van_rossum_loss(tau=3.0)(spk, target).backward()
    assert spk.grad.device == META
