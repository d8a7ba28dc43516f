"""How large each rule's gradients are on the same weights: snnTorch tutorial 6's network along atan()'s path.

The network of ``switch_grid.py --network tutorial6`` is trained with
``atan()`` (Adam 1e-2, batch 128, the count loss ``SF.mse_count_loss(0.8,
0.2)``); at each batch of ``--at``, every rule of ``--rules`` computes the
gradient of the same loss on the same weights and batch, and the norm of each
parameter's gradient is recorded, with the firing rates (spikes per neuron
and step) of the last hidden layer and the output layer there. A rule whose
gradient grows layer by layer (towards the input) against ``atan()``'s shows
it here. Results: ``OUT/gradient_scale.json`` and a markdown table of the
norms relative to ``atan()``'s (the numbers depend a little on ``--threads``).

    PYTHONPATH=. python benchmarks/gradient_scale.py --out benchmarks/results/gradient_scale \
        --data-root data --threads 2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run the checkout, not an installed copy

import snntorch as snn  # noqa: E402
from switch_grid import NETWORKS, RULES, load_mnist, loss_of  # noqa: E402

import snntorch_tssl as st  # noqa: E402


def gradients(rule: str, state: dict, images: torch.Tensor, labels: torch.Tensor, steps: int) -> dict:
    """The gradient norm of every parameter with ``rule`` on ``state``."""
    spec = NETWORKS["tutorial6"]
    net = spec.module("leaky", rule, steps, spec.beta)
    net.load_state_dict(state)
    spikes, mems, _ = net(images)
    loss_of("mse-count", steps)(spikes, mems, labels).backward()
    return {name: parameter.grad.norm().item() for name, parameter in net.named_parameters()}


def table(records: list[dict], rules: list[str]) -> str:
    """Markdown: per batch and weight (input layer first), each rule's gradient norm as a multiple of
    atan()'s ("-" where atan()'s is 0)."""
    names = [name for name in records[0]["norms"]["atan"] if name.endswith("weight")]
    lines = [
        "| batch | firing rate (last hidden, output) | parameter | atan | "
        + " | ".join(f"{rule} / atan" for rule in rules if rule != "atan")
        + " |"
    ]
    lines.append("|---|---|---|---|" + "---|" * (len(rules) - 1))
    for record in records:
        norms = record["norms"]
        for name in names:
            atan = norms["atan"][name]
            ratios = [f"{norms[rule][name] / atan:.2g}" if atan > 0 else "-" for rule in rules if rule != "atan"]
            rates = f"{record['rates']['hidden']:.3f}, {record['rates']['output']:.3f}"
            lines.append(
                f"| {record['batch']} | {rates} | {name} | {norms['atan'][name]:.2g} | " + " | ".join(ratios) + " |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data-root", default="data", help='MNIST folder for torchvision, or "bundled"')
    parser.add_argument("--rules", nargs="+", default=["atan", "tssl", "tssl-no-reset-term", "tssl-max-inv-du-1"])
    parser.add_argument("--at", nargs="+", type=int, default=[0, 10, 30], help="batches at which to compare")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    unknown = [rule for rule in args.rules if rule not in RULES]
    if unknown or "atan" not in args.rules:
        parser.error(f"--rules must include atan and name rules of switch_grid.RULES, got {args.rules}")
    torch.set_num_threads(args.threads)
    train_x, train_y, _, _ = load_mnist(args.data_root)
    torch.manual_seed(args.seed)
    spec = NETWORKS["tutorial6"]
    net = spec.module("leaky", "atan", args.steps, spec.beta)
    optimizer = torch.optim.Adam(net.parameters(), lr=spec.learning_rate, betas=(0.9, 0.999))
    order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(args.seed))
    records = []
    for batch in range(max(args.at) + 1):
        index = order[batch * args.batch_size : (batch + 1) * args.batch_size]
        images, labels = train_x[index], train_y[index]
        if batch in args.at:
            state = {name: value.clone() for name, value in net.state_dict().items()}
            norms = {rule: gradients(rule, state, images, labels, args.steps) for rule in args.rules}
            with torch.no_grad():
                spikes, _, hidden = net(images)
            rates = {"hidden": hidden.mean().item(), "output": spikes.mean().item()}
            records.append({"batch": batch, "norms": norms, "rates": rates})
            print(f"batch {batch}: " + ", ".join(f"{rule} {sum(n.values()):.3g}" for rule, n in norms.items()))
        spikes, mems, _ = net(images)
        loss = loss_of("mse-count", args.steps)(spikes, mems, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    args.out.mkdir(parents=True, exist_ok=True)
    versions = {"torch": torch.__version__, "snntorch": snn.__version__, "package": st.__version__}
    results = {"steps": args.steps, "seed": args.seed, "records": records, "versions": versions}
    (args.out / "gradient_scale.json").write_text(json.dumps(results, indent=1))
    (args.out / "gradient_scale.md").write_text(table(records, args.rules) + "\n")


if __name__ == "__main__":
    main()
