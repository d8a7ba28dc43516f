"""Datasets: the bundled MNIST subset, torchvision loading with clear errors, N-MNIST frames and .bin folders."""

import gzip
import hashlib

import numpy as np
import pytest
import torch
from tiny_data import write_mnist, write_nmnist_bin

from snntorch_tssl.data import (
    DataNotFoundError,
    EventFrames,
    ImageDataset,
    NMNISTFolder,
    bundled_mnist,
    image_dataset,
    nmnist_dataset,
)


def test_bundled_mnist_sizes_and_normalisation():
    train, test = bundled_mnist(train=True), bundled_mnist(train=False)
    assert (len(train), len(test)) == (10000, 1000)
    x, y = test[0]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and 0 <= int(y) <= 9
    assert set(test.labels.tolist()) == set(range(10))
    assert abs(float(train.images.float().div(255).mean()) - 0.1307) < 0.01


def test_torchvision_mnist_from_raw_files(tmp_path):
    data = image_dataset("mnist", write_mnist(tmp_path), train=False, download=False)
    assert len(data) == 20
    x, y = data[3]
    assert x.shape == (1, 28, 28) and int(y) == 3


@pytest.mark.parametrize("name", ["mnist", "fmnist", "cifar10"])
def test_missing_data_names_the_files_and_where(tmp_path, name):
    with pytest.raises(DataNotFoundError) as info:
        image_dataset(name, tmp_path, train=True, download=False)
    message = str(info.value)
    assert str(tmp_path) in message and "download is disabled" in message
    assert ("cifar-10-python.tar.gz" if name == "cifar10" else "train-images-idx3-ubyte.gz") in message


def test_image_dataset_augmentation_keeps_shape_and_checks_input():
    images = torch.randint(0, 255, (3, 3, 32, 32), dtype=torch.uint8)
    data = ImageDataset(images, torch.arange(3), (0.5,) * 3, (0.25,) * 3, augment=True)
    assert data[0][0].shape == (3, 32, 32)
    with pytest.raises(ValueError, match="mean and std"):
        ImageDataset(images, torch.arange(3), (0.5,), (0.25,))
    with pytest.raises(TypeError, match="uint8"):
        ImageDataset(images.float(), torch.arange(3), (0.5,) * 3, (0.25,) * 3)


def test_event_frames_bins_3ms_both_polarities():
    events = np.array(
        [(1, 2, 0, 0), (1, 2, 2999, 1), (5, 6, 3000, 0), (7, 8, 8999, 1), (9, 9, 9000, 1)],
        dtype=[("x", int), ("y", int), ("t", int), ("p", int)],
    )
    frames = EventFrames(3)(events)
    assert frames.shape == (3, 2, 34, 34)
    assert frames.sum() == 4  # the event at 9 ms falls outside T = 3 bins
    assert frames[0, 0, 2, 1] == 1 and frames[0, 1, 2, 1] == 1
    assert frames[1, 0, 6, 5] == 1 and frames[2, 1, 8, 7] == 1
    with pytest.raises(ValueError, match="steps"):
        EventFrames(0)


def test_nmnist_folder_reads_bin_files(tmp_path):
    write_nmnist_bin(tmp_path / "Train" / "3" / "00001.bin", [(4, 5, 1, 100), (10, 11, 0, 4000)])
    write_nmnist_bin(tmp_path / "Train" / "7" / "00002.bin", [(0, 0, 0, 50000)])
    write_nmnist_bin(tmp_path / "Test" / "1" / "00003.bin", [(33, 33, 1, 0)])
    train = nmnist_dataset(tmp_path, train=True, steps=4, download=False)
    assert isinstance(train, NMNISTFolder) and len(train) == 2
    frames, label = train[0]
    assert frames.shape == (4, 2, 34, 34) and int(label) == 3
    assert frames[0, 1, 5, 4] == 1 and frames[1, 0, 11, 10] == 1 and frames.sum() == 2
    assert train[1][0].sum() == 0  # its only event is at 50 ms, after T = 4 bins of 3 ms
    assert int(nmnist_dataset(tmp_path, train=False, steps=4, download=False)[0][1]) == 1


def test_nmnist_missing_says_where_to_put_files(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"Train/<digit>/<id>\.bin"):
        nmnist_dataset(tmp_path, train=True, steps=30, download=False)


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fmnist", "FashionMNIST")])
def test_recompressed_gz_files_alone_load_without_download(tmp_path, name, folder):
    """The four .gz files from any mirror (recompressed: not torchvision's MD5) load offline, as the errors promise."""
    import torchvision

    write_mnist(tmp_path / "made", folder=folder)
    raw = tmp_path / "data" / folder / "raw"
    raw.mkdir(parents=True)
    known_md5 = {md5 for _, md5 in getattr(torchvision.datasets, folder).resources}
    for path in (tmp_path / "made" / folder / "raw").iterdir():
        archive = raw / f"{path.name}.gz"
        archive.write_bytes(gzip.compress(path.read_bytes(), compresslevel=1, mtime=0))
        assert hashlib.md5(archive.read_bytes()).hexdigest() not in known_md5
    assert sorted(p.name for p in raw.iterdir()) == sorted(
        f"{p.name}.gz" for p in (tmp_path / "made" / folder / "raw").iterdir()
    )
    data = image_dataset(name, tmp_path / "data", train=True, download=False)
    reference = image_dataset(name, tmp_path / "made", train=True, download=False)
    assert len(data) == 40 and torch.equal(data.images, reference.images) and torch.equal(data.labels, reference.labels)
    assert len(image_dataset(name, tmp_path / "data", train=False, download=False)) == 20
    assert not list(raw.glob(".*"))  # no partial files left


def test_corrupt_gz_file_is_named(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(bytes(range(256)) * 40)[:200])  # cut short
    with pytest.raises(DataNotFoundError, match=r"train-images-idx3-ubyte\.gz' cannot be extracted"):
        image_dataset("mnist", tmp_path, train=True, download=False)
    assert not (raw / "train-images-idx3-ubyte").exists() and not list(raw.glob(".*"))
