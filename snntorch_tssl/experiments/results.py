"""Results files written atomically: JSON metrics, checkpoints and PNG plots."""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import torch


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the complete new one.

    The bytes go to a temporary file in the same folder, are flushed to disk
    and then renamed over ``path`` (an atomic operation on POSIX and Windows).

    :param path: destination file (its folder must exist)
    :param data: the file's full contents

    Example::

        from snntorch_tssl.experiments.results import atomic_write_bytes

        atomic_write_bytes("hello.txt", b"hello")
    """
    path = Path(path)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, obj: object) -> None:
    """Write ``obj`` as indented JSON, atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


def save_checkpoint(path: str | Path, state: dict) -> None:
    """``torch.save`` ``state`` to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def _save_figure(figure, path: str | Path) -> None:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())


def plot_accuracy(history: list[dict], path: str | Path, title: str) -> None:
    """Plot training and test accuracy per epoch as a PNG.

    :param history: per-epoch metrics with ``epoch``, ``train_accuracy`` and ``test_accuracy``
    :param path: PNG file to write (atomically)
    :param title: figure title
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    figure, axis = plt.subplots(figsize=(5, 3.5))
    axis.plot(epochs, [100 * row["train_accuracy"] for row in history], "o-", label="train")
    axis.plot(epochs, [100 * row["test_accuracy"] for row in history], "s-", label="test")
    axis.set_xlabel("epoch")
    axis.set_ylabel("accuracy (%)")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend()
    _save_figure(figure, path)


def plot_raster(spikes: torch.Tensor, labels: torch.Tensor, path: str | Path, title: str) -> None:
    """Raster plot of output spikes ``[T, N, C]`` of ``N`` test samples, one panel each, as a PNG.

    :param spikes: output spikes ``[T, N, C]``
    :param labels: the samples' labels ``[N]`` (marked in each panel's title)
    :param path: PNG file to write (atomically)
    :param title: figure title
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spikes = spikes.detach().cpu()
    samples = spikes.shape[1]
    figure, axes = plt.subplots(1, samples, figsize=(2.2 * samples, 2.6), sharey=True, squeeze=False)
    for index, axis in enumerate(axes[0]):
        steps, neurons = torch.nonzero(spikes[:, index], as_tuple=True)
        axis.scatter(steps.numpy(), neurons.numpy(), s=18, c="black", marker="|")
        axis.set_xlim(-0.5, spikes.shape[0] - 0.5)
        axis.set_ylim(-0.5, spikes.shape[2] - 0.5)
        axis.set_yticks(range(spikes.shape[2]))
        axis.axhline(int(labels[index]), color="tab:orange", alpha=0.3, lw=6)
        axis.set_title(f"label {int(labels[index])}", fontsize=9)
        axis.set_xlabel("time step")
    axes[0][0].set_ylabel("output neuron")
    figure.suptitle(title, fontsize=10, y=1.04)
    _save_figure(figure, path)
