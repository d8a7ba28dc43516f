"""On a GPU, a training step reads no tensor data on the host: no device synchronisation per step.

``torch.cuda.set_sync_debug_mode("error")`` turns every synchronising call (``.item()``,
``bool(tensor)``, a blocking copy to the host, ...) into an error. The first step runs outside it: it
compiles the Triton kernels and initialises the libraries. Skipped without a CUDA device.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import snntorch_tssl.functional as TF
from snntorch_tssl import SynapticSequence


def training_step(net: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, labels: torch.Tensor, loss: str):
    optimizer.zero_grad(set_to_none=True)
    spk = net(x)
    value = TF.van_rossum_loss()(spk, labels) if loss == "van_rossum" else spk.float().sum(0).pow(2).sum()
    value.backward()
    optimizer.step()


@pytest.mark.cuda
@pytest.mark.parametrize("backend", ["triton", "torch"])
@pytest.mark.parametrize("rule", ["tssl", "stbp-rectangular", "atan"])
@pytest.mark.parametrize("loss", ["spike-count", "van_rossum"])
def test_training_step_does_not_synchronize(backend, rule, loss):
    device = torch.device("cuda")
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(20, 30),
        SynapticSequence(spike_grad=rule, backend=backend),
        nn.Linear(30, 10),
        SynapticSequence(spike_grad=rule, backend=backend),
    ).to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    x = torch.rand(5, 8, 20, device=device) * 2
    labels = torch.randint(0, 10, (8,), device=device)
    training_step(net, optimizer, x, labels, loss)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        training_step(net, optimizer, x, labels, loss)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())
