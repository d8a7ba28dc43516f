"""A run's results folder: checked before the run starts, written atomically (JSON metrics and PNG plots).

A results folder holds one run. A new run refuses a folder that already
holds one (:func:`check_output`); the command line's default folder picks a
fresh name instead (:func:`fresh_output`). Every file is written to a
temporary file in the same folder and renamed over the old one, with the
permissions of any new file (``0o666`` less the process's umask).
"""

from __future__ import annotations

import io
import json
import os
import secrets
from pathlib import Path

import torch

METRICS = "metrics.json"
CHECKPOINT = "checkpoint.pt"
#: The files a run writes into its results folder.
RUN_FILES = (METRICS, CHECKPOINT, "accuracy.png", "raster.png")


class OutputError(OSError):
    """The results folder cannot be used: it is a file, cannot be written, holds another run, or a write failed."""


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the complete new one.

    The bytes go to a temporary file in the same folder, are flushed to disk
    and then renamed over ``path`` (an atomic operation on POSIX and Windows).
    The file gets the permissions of any newly created file: ``0o666`` less
    the process's umask (``0o644`` with the usual umask ``0o022``).

    :param path: destination file (its folder must exist)
    :param data: the file's full contents

    Example::

        import tempfile
        from pathlib import Path
        from snntorch_tssl.experiments.results import atomic_write_bytes

        path = Path(tempfile.mkdtemp()) / "notes.txt"
        atomic_write_bytes(path, b"hello")
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    handle = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def holds_run(folder: str | Path) -> bool:
    """Whether ``folder`` holds any file a run writes (:data:`RUN_FILES`)."""
    return any((Path(folder) / name).exists() for name in RUN_FILES)


def check_output(out: str | Path, *, continuing: bool = False) -> None:
    """Check, before a run starts and without writing anything, that it can write its results to ``out``.

    :param out: the results folder (it need not exist yet)
    :param continuing: the run continues the one in ``out`` (resumed from its checkpoint), so
        ``out`` may hold it
    :raises OutputError: ``out`` (or a folder above it) is a file, ``out`` holds another run,
        or the folder that would hold it cannot be written

    Example::

        import tempfile
        from snntorch_tssl.experiments.results import check_output

        check_output(tempfile.mkdtemp() + "/runs/first")  # a new folder in a writable place: fine
    """
    out = Path(out)
    existing = out
    try:
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise OutputError(f"results folder {str(out)!r} cannot be created: {str(existing)!r} is a file")
        taken = [name for name in RUN_FILES if (out / name).exists()] if existing == out else []
        if taken and not continuing:
            raise OutputError(
                f"results folder {str(out)!r} already holds a run ({', '.join(taken)}); "
                f"continue it with --resume {str(out)!r}, or choose another --out"
            )
        probe = existing / f".snntorch-tssl-probe-{secrets.token_hex(8)}"
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
    except OutputError:
        raise
    except OSError as error:
        raise OutputError(
            f"results folder {str(out)!r} cannot be written: {error.strerror or error} in {str(existing)!r}"
        ) from error


def fresh_output(out: str | Path) -> Path:
    """Return ``out`` if it holds no run, else the first of ``out-2``, ``out-3``, ... that holds none.

    Example::

        from snntorch_tssl.experiments.results import fresh_output

        fresh_output("runs/quickstart-tssl-sequence-seed0")  # that folder, or -2, -3, ... if taken
    """
    out = Path(out)
    candidate, number = out, 1
    while holds_run(candidate):
        number += 1
        candidate = out.with_name(f"{out.name}-{number}")
    return candidate


def write_json(path: str | Path, obj: object) -> None:
    """Write ``obj`` as indented JSON, atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


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
