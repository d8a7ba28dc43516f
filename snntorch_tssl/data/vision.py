"""Static image datasets (MNIST, Fashion-MNIST, CIFAR-10 through torchvision; the bundled MNIST subset)."""

from __future__ import annotations

import gzip
import os
import shutil
import urllib.error
import zlib
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from snntorch_tssl._validation import check_bool, check_choice

#: Per-channel mean and standard deviation of each training set (inputs are normalised with them).
NORMALISATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "mnist": ((0.1307,), (0.3081,)),
    "fmnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}

_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte.gz")  # fmt: skip
_WHERE = {
    "mnist": ("MNIST", "{root}/MNIST/raw/ the four files " + ", ".join(_MNIST_FILES)),
    "fmnist": ("FashionMNIST", "{root}/FashionMNIST/raw/ the four files " + ", ".join(_MNIST_FILES)),
    "cifar10": ("CIFAR10", "{root}/ the archive cifar-10-python.tar.gz (or its extracted cifar-10-batches-py/)"),
}

BUNDLED_FILE = "mnist_small.npz"


class DataNotFoundError(FileNotFoundError):
    """A dataset is neither on disk nor downloadable; the message says which files to put where."""


class ImageDataset(Dataset):
    r"""In-memory images, normalised per channel, optionally augmented (random crop and flip).

    .. math:: x = (\text{image} / 255 - \mu_c) / \sigma_c

    :param images: ``uint8`` tensor ``[N, C, H, W]``
    :param labels: integer tensor ``[N]``
    :param mean: per-channel mean :math:`\mu_c`
    :param std: per-channel standard deviation :math:`\sigma_c`
    :param augment: random 4-pixel-padded crop and horizontal flip of each sample

    Example::

        import torch
        from snntorch_tssl.data import ImageDataset

        data = ImageDataset(torch.zeros(4, 1, 28, 28, dtype=torch.uint8), torch.arange(4), (0.5,), (0.5,))
        x, y = data[0]  # x: [1, 28, 28], every entry -1.0
    """

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        augment: bool = False,
    ) -> None:
        if not isinstance(images, Tensor) or images.dtype != torch.uint8 or images.dim() != 4:
            raise TypeError(f"images must be a uint8 tensor [N, C, H, W], got {getattr(images, 'shape', images)!r}")
        if not isinstance(labels, Tensor) or labels.shape != (images.shape[0],):
            raise ValueError(f"labels must be a tensor [{images.shape[0]}], got {getattr(labels, 'shape', labels)!r}")
        if len(mean) != images.shape[1] or len(std) != images.shape[1]:
            raise ValueError(f"mean and std must have {images.shape[1]} entries, got {mean} and {std}")
        self.images = images
        self.labels = labels.long()
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)
        self.augment = check_bool("augment", augment)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        x = (self.images[index].float() / 255.0 - self.mean) / self.std
        if self.augment:
            height, width = x.shape[1:]
            padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
            top, left = torch.randint(0, 9, (2,)).tolist()
            x = padded[:, top : top + height, left : left + width]
            if torch.rand(()) < 0.5:
                x = x.flip(-1)
        return x, self.labels[index]


def _extract_raw_archives(raw: Path) -> None:
    """Extract every ``raw/<file>.gz`` of MNIST's four files whose extracted copy is missing.

    torchvision reads the extracted files; it extracts the archives itself
    only while downloading, after checking their MD5 against its list. Copies
    of the archives from another mirror are recompressed (other MD5, same
    content), so they are extracted here and torchvision finds them in place,
    with or without a network.
    """
    for name in _MNIST_FILES:
        archive, target = raw / name, raw / name.removesuffix(".gz")
        if target.exists() or not archive.is_file():
            continue
        partial = target.with_name(f".{target.name}.partial")
        try:
            with gzip.open(archive, "rb") as source, open(partial, "wb") as destination:
                shutil.copyfileobj(source, destination)
            os.replace(partial, target)
        except (OSError, EOFError, zlib.error) as error:
            partial.unlink(missing_ok=True)
            raise DataNotFoundError(
                f"{str(archive)!r} cannot be extracted ({type(error).__name__}: {error}); "
                "replace it with an intact copy"
            ) from error


def _torchvision_arrays(name: str, root: str | Path, train: bool, download: bool) -> tuple[Tensor, Tensor]:
    import torchvision

    folder, where = _WHERE[name]
    cls = getattr(torchvision.datasets, folder)
    if name in ("mnist", "fmnist"):
        _extract_raw_archives(Path(root) / folder / "raw")
    try:
        dataset = cls(str(root), train=train, download=download)
    except (RuntimeError, OSError, urllib.error.URLError) as error:
        how = "downloading failed" if download else "download is disabled"
        raise DataNotFoundError(
            f"{folder} was not found under data root {str(root)!r} and {how} ({error}). "
            f"Put {where.format(root=root)} and run again."
        ) from error
    images = torch.as_tensor(np.asarray(dataset.data))
    if images.dim() == 3:
        images = images.unsqueeze(1)
    else:
        images = images.permute(0, 3, 1, 2).contiguous()
    return images, torch.as_tensor(np.asarray(dataset.targets))


def image_dataset(
    name: str, root: str | Path, train: bool, *, download: bool = True, augment: bool = False
) -> ImageDataset:
    """Load MNIST, Fashion-MNIST or CIFAR-10 with torchvision into a normalised :class:`ImageDataset`.

    :param name: "mnist", "fmnist" or "cifar10"
    :param root: data root (torchvision's layout: ``ROOT/MNIST/raw``, ``ROOT/FashionMNIST/raw``,
        ``ROOT/cifar-10-batches-py``). MNIST's and Fashion-MNIST's four ``.gz`` files from any mirror
        (recompressed copies too, whose MD5 differs from torchvision's list) are extracted in place,
        so they load with ``download=False``.
    :param train: training split if True, else the test split
    :param download: let torchvision download missing files
    :param augment: random crop and flip (use for CIFAR-10 training)
    :raises DataNotFoundError: the files are missing and cannot be downloaded

    Example::

        from snntorch_tssl.data import image_dataset

        test = image_dataset("mnist", "data", train=False)  # downloads MNIST into data/MNIST/raw
    """
    check_choice("name", name, tuple(NORMALISATION))
    images, labels = _torchvision_arrays(name, root, check_bool("train", train), check_bool("download", download))
    mean, std = NORMALISATION[name]
    return ImageDataset(images, labels, mean, std, augment=augment)


def bundled_mnist(train: bool) -> ImageDataset:
    """The MNIST subset shipped inside the package (10,000 training and 1,000 test digits).

    The training digits are the first 10,000 of MNIST's training set, the test
    digits the first 1,000 of its test set. MNIST is by Yann LeCun and Corinna
    Cortes (CC BY-SA 3.0); see ``snntorch_tssl/data/MNIST_SMALL_NOTICE.txt``.

    :param train: training split if True, else the test split

    Example::

        from snntorch_tssl.data import bundled_mnist

        x, y = bundled_mnist(train=False)[0]  # x: [1, 28, 28], y: the digit
    """
    split = "train" if check_bool("train", train) else "test"
    with resources.files("snntorch_tssl.data").joinpath(BUNDLED_FILE).open("rb") as handle:
        arrays = np.load(handle)
        images = torch.from_numpy(arrays[f"{split}_images"]).unsqueeze(1)
        labels = torch.from_numpy(arrays[f"{split}_labels"].astype(np.int64))
    mean, std = NORMALISATION["mnist"]
    return ImageDataset(images, labels, mean, std)
