"""Tiny datasets in the real on-disk formats, written by the tests themselves."""

from pathlib import Path

import numpy as np


def write_mnist(root: Path, train: int = 40, test: int = 20, folder: str = "MNIST") -> Path:
    """Write tiny MNIST-format idx files (what torchvision reads) with class-dependent blobs."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    generator = np.random.default_rng(0)
    for prefix, count in (("train", train), ("t10k", test)):
        labels = np.arange(count, dtype=np.uint8) % 10
        images = generator.integers(0, 40, (count, 28, 28), dtype=np.uint8)
        for index, label in enumerate(labels):
            row = 2 + 2 * int(label)
            images[index, row : row + 3, 4:24] = 255
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            np.array([2051, count, 28, 28], dtype=">i4").tobytes() + images.tobytes()
        )
        header = np.array([2049, count], dtype=">i4").tobytes()
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(header + labels.tobytes())
    return root


def write_nmnist_bin(path: Path, events: list[tuple[int, int, int, int]]) -> None:
    """Encode events (x, y, polarity, t in microseconds) in N-MNIST's 40-bit format."""
    data = bytearray()
    for x, y, p, t in events:
        data += bytes([x, y, (p << 7) | (t >> 16) & 127, (t >> 8) & 255, t & 255])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
