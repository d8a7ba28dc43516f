"""Draw the accuracy curves of docs/results.md from docs/results/accuracy.json.

Run from the repository root (the figures are committed)::

    python docs/make_results_plots.py
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DOCS = Path(__file__).resolve().parent
TITLES = {
    "quickstart": "quickstart: 784-400-400-10, T = 5, bundled MNIST subset",
    "mnist-mlp": "mnist-mlp: 784-400-400-10, T = 5, full MNIST",
    "mnist-cnn": "mnist-cnn: 15C5-P2-40C5-P2-300-10, T = 5, full MNIST",
}


def main(out: Path = DOCS / "_static" / "results" / "accuracy.png") -> Path:
    runs = json.loads((DOCS / "results" / "accuracy.json").read_text())["runs"]
    figure, axes = plt.subplots(1, len(TITLES), figsize=(13, 3.6))
    for axis, (name, title) in zip(axes, TITLES.items(), strict=True):
        for run in (run for run in runs if run["figure"] == name):
            epochs = range(1, len(run["test_accuracy"]) + 1)
            axis.plot(epochs, run["test_accuracy"], "o-", label=run["label"])
        axis.set_title(title, fontsize=9)
        axis.set_xlabel("epoch")
        axis.set_ylabel("test accuracy (%)")
        axis.xaxis.get_major_locator().set_params(integer=True)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


if __name__ == "__main__":
    print(main())
