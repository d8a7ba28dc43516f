"""torch.compile: SynapticSequence with TSSL-BP traces into one graph and matches eager.

The graph-break count comes from ``torch._dynamo.explain``; the forward and
backward are compiled with ``fullgraph=True`` and the ``aot_eager`` backend
(AOTAutograd traces forward and backward; no C++ compiler is needed, which
keeps this test in the unit suite). The inductor backend gives the same
outputs and gradients but takes about a minute to compile on two CPU cores.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snntorch_tssl import SynapticSequence, tssl

pytestmark = pytest.mark.slow


def make_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(6, 5, bias=False),
        SynapticSequence(tau_s=3.0, tau_m=5.0, spike_grad=tssl(), reset_mechanism="zero"),
    )


def test_no_graph_breaks_and_same_outputs_and_gradients_as_eager():
    torch._dynamo.reset()
    net = make_net()
    x = torch.rand(4, 3, 6, generator=torch.Generator().manual_seed(1)) * 3

    explanation = torch._dynamo.explain(net)(x)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1

    compiled = torch.compile(net, backend="aot_eager", fullgraph=True)
    weights = torch.arange(5.0)
    spk = compiled(x)
    (spk * weights).sum().backward()
    grad_compiled = net[0].weight.grad.clone()
    net.zero_grad()
    spk_eager = net(x)
    (spk_eager * weights).sum().backward()

    assert torch.equal(spk, spk_eager)
    assert spk.sum() > 0
    torch.testing.assert_close(grad_compiled, net[0].weight.grad, rtol=1e-6, atol=1e-7)
    assert net[0].weight.grad.abs().sum() > 0
