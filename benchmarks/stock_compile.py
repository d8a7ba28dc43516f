"""Does torch.compile work with tssl() in stock snnTorch neurons? Graph breaks and correctness.

Builds a small stock snn.Leaky MLP with spike_grad=tssl(), counts graph
breaks with torch._dynamo.explain, then checks that the compiled model's
spikes and weight gradients equal eager mode's.

    PYTHONPATH=. python benchmarks/stock_compile.py [--backend aot_eager|inductor|eager]
"""

from __future__ import annotations

import argparse

import torch
from stock_overhead import StockLeakyMLP
from torch import nn

from snntorch_tssl import tssl


def small_mlp() -> nn.Module:
    return StockLeakyMLP(tssl, sizes=(20, 16, 5), beta=0.8)


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

    explanation = torch._dynamo.explain(small_mlp())(x)
    print(f"graphs: {explanation.graph_count}, graph breaks: {explanation.graph_break_count}")
    reasons = sorted({str(b.reason).splitlines()[0] for b in explanation.break_reasons})
    for reason in reasons:
        print(f"  break reason: {reason}")

    torch._dynamo.reset()
    eager = small_mlp()
    compiled = small_mlp()
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
