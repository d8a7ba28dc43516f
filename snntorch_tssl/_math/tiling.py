"""Tiles of a time-first sequence, and small helpers shared by the sequence passes."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


def scalar_like(value: Tensor | float, like: Tensor) -> Tensor:
    """``value`` as a tensor of ``like``'s dtype and device (0-dim for a number): in element-wise ops it is
    as exact as a Python float and faster (no wrapping on every call). A number is written on the device
    (no copy from the host, which would wait for the device)."""
    if isinstance(value, Tensor):
        return value.to(dtype=like.dtype, device=like.device)
    return torch.full((), value, dtype=like.dtype, device=like.device)


def per_neuron(value: Tensor | float, like: Tensor, neuron_shape: torch.Size) -> Tensor:
    """A constant of the neurons as ``like``'s dtype and device: a 0-dim tensor if it is a scalar, else
    flattened to ``[N]`` after broadcasting to ``neuron_shape`` (to index with a block of
    :func:`split_tiles`)."""
    value = scalar_like(value, like)
    if value.dim() == 0:
        return value
    return value.expand(neuron_shape).reshape(-1)


#: Elements per tile of the sequence passes on CPU: the per-tile temporaries stay cache-sized.
CHUNK_ELEMENTS = 1 << 16
#: Elements per tile on other devices (GPUs), where fewer, larger kernels are what counts.
CHUNK_ELEMENTS_ACCELERATOR = 1 << 22


class Tiling(NamedTuple):
    """Tiles of a time-first sequence seen as ``[T, N]``: neuron blocks times time chunks."""

    blocks: list[slice]
    chunks: list[tuple[int, int]]
    width: int
    steps: int


def split_tiles(sequence: Tensor, reverse: bool = False) -> Tiling:
    """Split ``[T, N]`` into tiles of about :data:`CHUNK_ELEMENTS` elements
    (:data:`CHUNK_ELEMENTS_ACCELERATOR` off the CPU): the neurons into blocks of about equal width,
    no wider than that, and time into chunks of ``steps`` steps (at least one), last chunk first
    with ``reverse``.

    Neurons are independent, so a pass may run block by block, and the
    state and temporaries of one block stay in cache from step to step.
    Without neurons (an empty batch) there are no blocks.
    """
    total, neurons = sequence.shape[0], sequence[0].numel()
    budget = CHUNK_ELEMENTS if sequence.device.type == "cpu" else CHUNK_ELEMENTS_ACCELERATOR
    count = max(1, -(-neurons // budget))
    width = max(1, -(-neurons // count))
    steps = max(1, budget // width)
    blocks = [slice(start, min(neurons, start + width)) for start in range(0, neurons, width)]
    chunks = [(start, min(total, start + steps)) for start in range(0, total, steps)]
    return Tiling(blocks, chunks[::-1] if reverse else chunks, width, min(steps, total))


def as_matrix(tensor: Tensor | None) -> Tensor | None:
    """A time-first tensor as ``[T, N]`` (a view when possible)."""
    return None if tensor is None else tensor.reshape(tensor.shape[0], -1)


def as_vector(tensor: Tensor | None) -> Tensor | None:
    """A tensor of one step's shape (a state) as ``[N]`` (a view when possible)."""
    return None if tensor is None else tensor.reshape(-1)


def add_at_last_step(sequence: Tensor | None, last: Tensor | None, like: Tensor) -> Tensor | None:
    """``[T, N]`` ``sequence`` (None for zeros shaped like ``like``) with ``last`` (``[N]``-viewable, None
    for zero) added to its last step; a new tensor when ``last`` is given, else ``sequence`` itself."""
    if last is None:
        return sequence
    out = like.new_zeros(like.shape) if sequence is None else sequence.clone()
    out[-1] += last.reshape(-1)
    return out
