"""N-MNIST (Orchard et al. 2015) as binned event frames: through tonic, or from a folder of .bin files."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from snntorch_tssl._validation import check_bool, check_positive
from snntorch_tssl.data.vision import DataNotFoundError

SENSOR_SIZE = (34, 34)
BIN_US = 3000.0


class EventFrames:
    r"""Bin an event stream into ``steps`` binary frames ``[T, 2, 34, 34]`` (both polarities).

    .. math:: x[t, p, y, x] = \mathbb{1}\big[\exists\ \text{event } (x, y, p)
              \text{ with } t \cdot \Delta \le t_e < (t + 1) \Delta\big]

    with bin width :math:`\Delta` = 3 ms (the paper's); events after
    ``steps`` bins are dropped.

    :param steps: number of frames T
    :param bin_us: bin width in microseconds
    :param sensor_size: ``(width, height)`` of the sensor

    Example::

        import numpy as np
        from snntorch_tssl.data import EventFrames

        events = np.zeros(1, dtype=[("x", int), ("y", int), ("t", int), ("p", int)])
        frames = EventFrames(30)(events)  # [30, 2, 34, 34], one spike at t=0
    """

    def __init__(self, steps: int, bin_us: float = BIN_US, sensor_size: tuple[int, int] = SENSOR_SIZE) -> None:
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be an int >= 1, got {steps!r}")
        self.steps = steps
        self.bin_us = check_positive("bin_us", bin_us)
        self.sensor_size = sensor_size

    def __call__(self, events: np.ndarray) -> Tensor:
        width, height = self.sensor_size
        frames = np.zeros((self.steps, 2, height, width), dtype=np.float32)
        bins = (events["t"] // self.bin_us).astype(np.int64)
        keep = (bins >= 0) & (bins < self.steps)
        frames[bins[keep], events["p"][keep].astype(np.int64), events["y"][keep], events["x"][keep]] = 1.0
        return torch.from_numpy(frames)


class NMNISTFolder(Dataset):
    """N-MNIST recordings from a folder of ``.bin`` files in tonic's layout: ``ROOT/<digit>/<id>.bin``.

    Each sample is read with tonic's N-MNIST reader and binned with
    ``transform`` (for example :class:`EventFrames`).

    :param root: the split's folder (for example ``NMNIST-subset/Train``)
    :param transform: maps a structured event array to the sample
    :raises DataNotFoundError: if the folder holds no ``<digit>/*.bin`` files

    Example::

        from snntorch_tssl.data import EventFrames, NMNISTFolder

        test = NMNISTFolder("NMNIST-subset/Test", EventFrames(30))
        frames, label = test[0]  # frames: [30, 2, 34, 34]
    """

    def __init__(self, root: str | Path, transform: EventFrames) -> None:
        self.root = Path(root)
        self.files = sorted(self.root.glob("[0-9]/*.bin"))
        if not self.files:
            raise DataNotFoundError(f"no N-MNIST recordings <digit>/<id>.bin found under {str(self.root)!r}")
        self.labels = [int(path.parent.name) for path in self.files]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        from tonic.datasets import NMNIST
        from tonic.io import read_mnist_file

        events = read_mnist_file(str(self.files[index]), dtype=NMNIST.dtype)
        return self.transform(events), torch.tensor(self.labels[index])


def nmnist_dataset(root: str | Path, train: bool, steps: int, *, download: bool = True) -> Dataset:
    """Load N-MNIST binned into ``steps`` frames of 3 ms (``[T, 2, 34, 34]`` per sample).

    Looks for, in order: a folder of recordings ``ROOT/Train/<digit>/*.bin`` and
    ``ROOT/Test/<digit>/*.bin`` (tonic's extracted layout, e.g. a subset),
    then tonic's ``tonic.datasets.NMNIST(ROOT)`` (``ROOT/NMNIST/...``), which
    downloads the archives when ``download`` is True.

    :param root: data root
    :param train: training split if True, else the test split
    :param steps: number of 3 ms frames T
    :param download: let tonic download the full dataset when no folder is found
    :raises DataNotFoundError: no recordings and no download

    Example::

        from snntorch_tssl.data import nmnist_dataset

        train = nmnist_dataset("NMNIST-subset", train=True, steps=30)
    """
    check_bool("train", train)
    transform = EventFrames(steps)
    split = "Train" if train else "Test"
    root = Path(root)
    for folder in (root / split, root / "NMNIST" / split):
        if folder.is_dir() and any(folder.glob("[0-9]/*.bin")):
            return NMNISTFolder(folder, transform)
    where = (
        f"Put the recordings as {root}/Train/<digit>/<id>.bin and {root}/Test/<digit>/<id>.bin "
        f"(tonic's extracted N-MNIST layout) or tonic's N-MNIST archives under {root}/NMNIST/, and run again."
    )
    if not check_bool("download", download):
        raise DataNotFoundError(f"N-MNIST was not found under data root {str(root)!r}, download is disabled. {where}")
    import tonic

    try:
        return tonic.datasets.NMNIST(str(root), train=train, transform=transform)
    except (RuntimeError, OSError, urllib.error.URLError) as error:
        raise DataNotFoundError(
            f"N-MNIST was not found under data root {str(root)!r} and downloading failed ({error}). {where}"
        ) from error
