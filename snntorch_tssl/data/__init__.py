"""Datasets and encodings: torchvision images, N-MNIST event frames, the bundled MNIST subset."""

from snntorch_tssl.data.nmnist import EventFrames, NMNISTFolder, nmnist_dataset
from snntorch_tssl.data.vision import DataNotFoundError, ImageDataset, bundled_mnist, image_dataset

__all__ = [
    "DataNotFoundError",
    "EventFrames",
    "ImageDataset",
    "NMNISTFolder",
    "bundled_mnist",
    "image_dataset",
    "nmnist_dataset",
]
