"""snntorch_tssl.diagnose along a training run of snnTorch tutorial 6's CNN: what tssl() sees, layer by layer.

The network of ``switch_grid.py --network tutorial6`` (12C5-MP2-64C5-MP2-10,
``snn.Leaky`` with ``init_hidden=True``) is trained with ``--rule`` for the
largest of ``--at`` batches (Adam 1e-2, batch 128); before each batch of
``--at`` the step is diagnosed against ``fast_sigmoid(slope=25)``, the
tutorial's surrogate, on the same weights and batch. The reports are written
to ``OUT/diagnose.md``.

    PYTHONPATH=. python benchmarks/diagnose_tutorial6.py --out /tmp/diag --data-root data \
        --beta 0.9 --loss mse-count --steps 10 --at 0 1 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run the checkout, not an installed copy

from snntorch import surrogate  # noqa: E402
from switch_grid import LOSSES, RULES, Tutorial6Net, load_mnist, loss_of  # noqa: E402

import snntorch_tssl as st  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data-root", default="data", help='MNIST folder for torchvision, or "bundled"')
    parser.add_argument("--rule", default="tssl", choices=[name for name in RULES if name.startswith("tssl")])
    parser.add_argument("--beta", type=float, default=0.5)
    parser.add_argument("--reset", default="subtract", choices=("subtract", "zero"))
    parser.add_argument("--loss", default="mse-count", choices=LOSSES)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--at", nargs="+", type=int, default=[0, 1, 2], help="batches to diagnose")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    train_x, train_y, _, _ = load_mnist(args.data_root)
    torch.manual_seed(args.seed)
    net = Tutorial6Net("leaky", args.rule, args.steps, args.beta, args.reset)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    loss_fn = loss_of(args.loss, args.steps)
    lines = [
        f"# {args.rule} in tutorial 6's CNN: beta {args.beta:g}, reset {args.reset}, {args.loss}, "
        f"T = {args.steps}, seed {args.seed}",
        "",
    ]
    for batch in range(max(args.at) + 1):
        images, labels = train_x[batch * 128 : (batch + 1) * 128], train_y[batch * 128 : (batch + 1) * 128]

        def loss(output, labels=labels):
            return loss_fn(output[0], output[1], labels)

        if batch in args.at:
            report = st.diagnose(net, images, loss, reference=surrogate.fast_sigmoid(slope=25))
            lines += [f"## Before batch {batch}", "", str(report), ""]
            print(f"batch {batch}: loss {report.loss:.4g}")
        value = loss(net(images))
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
    (args.out / "diagnose.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
