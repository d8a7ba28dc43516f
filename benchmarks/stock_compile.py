"""Does torch.compile work with tssl() in stock snnTorch neurons? Graph breaks and correctness.

Builds a small stock snn.Leaky MLP with spike_grad=tssl(), counts graph
breaks with torch._dynamo.explain, then checks that the compiled model's
spikes and weight gradients equal eager mode's.

    PYTHONPATH=. python benchmarks/stock_compile.py [--backend aot_eager|inductor|eager]
"""

from __future__ import annotations

import argparse

import snntorch as snn
import torch
from torch import nn

from snntorch_tssl import tssl


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc1, self.fc2 = nn.Linear(20, 16), nn.Linear(16, 5)
        self.lif1 = snn.Leaky(beta=0.8, reset_mechanism="zero", spike_grad=tssl())
        self.lif2 = snn.Leaky(beta=0.8, reset_mechanism="zero", spike_grad=tssl())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem1, mem2 = self.lif1.reset_mem(), self.lif2.reset_mem()
        out = []
        for step in x:
            spk1, mem1 = self.lif1(self.fc1(step), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2)
        return torch.stack(out)


def grads(model: nn.Module, x: torch.Tensor, grad_out: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    model.zero_grad()
    spk = model(x)
    (spk * grad_out).sum().backward()
    return spk.detach(), [p.grad.clone() for p in model.parameters()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="aot_eager")
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(args.steps, 4, 20, generator=gen) * 2
    grad_out = torch.randn(args.steps, 4, 5, generator=gen)

    explanation = torch._dynamo.explain(MLP())(x)
    print(f"graphs: {explanation.graph_count}, graph breaks: {explanation.graph_break_count}")
    reasons = sorted({str(b.reason).splitlines()[0] for b in explanation.break_reasons})
    for reason in reasons:
        print(f"  break reason: {reason}")

    torch._dynamo.reset()
    eager = MLP()
    compiled = MLP()
    compiled.load_state_dict(eager.state_dict())
    spk_eager, grads_eager = grads(eager, x, grad_out)
    compiled_call = torch.compile(compiled, backend=args.backend)
    spk_c, grads_c = grads(compiled_call, x, grad_out)
    same_spikes = torch.equal(spk_eager, spk_c)
    pairs = zip(grads_c, grads_eager, strict=True)
    worst = max(((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item() for a, b in pairs)
    print(f"backend {args.backend}: spikes equal: {same_spikes}, max relative weight-gradient difference: {worst:.2e}")


if __name__ == "__main__":
    main()
