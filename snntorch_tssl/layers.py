"""Frame-wise layers for time-first sequences, so the paper's CNNs are a plain ``nn.Sequential``."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from snntorch_tssl._validation import check_int, check_positive, check_sequence


class FrameWise(nn.Module):
    r"""Apply a per-frame module to every time step of a ``[T, B, ...]`` sequence.

    .. math:: Y[t] = f(X[t]) \quad \text{for } t = 0..T-1

    The time and batch dimensions are merged (``[T * B, ...]``) for one call
    of ``module``, so it runs as fast as on a single large batch.

    :param module: a layer that takes ``[B, ...]`` (``nn.Conv2d``, pooling, ``nn.Flatten``, ...)

    Inputs: ``x`` ``[T, B, ...]`` with at least one dimension per frame (``[T, B, F]``,
    ``[T, B, C, H, W]``, ...); a 2-D ``[T, B]`` tensor is an error, since it has no frame to pass
    to ``module``.

    Example::

        import torch
        from torch import nn
        from snntorch_tssl import FrameWise

        conv = FrameWise(nn.Conv2d(1, 15, 5, bias=False))
        y = conv(torch.rand(5, 8, 1, 28, 28))  # [5, 8, 15, 24, 24]
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        self.module = module

    def forward(self, x: Tensor) -> Tensor:
        if isinstance(x, Tensor) and x.dim() == 2:
            raise ValueError(
                f"x must be [T, B, ...] with at least one frame dimension after T and B (the module gets "
                f"[T*B, ...]), got shape {tuple(x.shape)}; give each sample a feature axis: x.unsqueeze(-1)"
            )
        check_sequence("x", x, min_dim=3)
        steps, batch = x.shape[:2]
        y = self.module(x.reshape(steps * batch, *x.shape[2:]))
        if not isinstance(y, Tensor) or y.dim() == 0 or y.shape[0] != steps * batch:
            got = f"shape {tuple(y.shape)}" if isinstance(y, Tensor) else type(y).__name__
            raise TypeError(
                f"module must map [T*B, ...] = [{steps * batch}, ...] to a tensor with the same first "
                f"dimension, got {got}"
            )
        return y.reshape(steps, batch, *y.shape[1:])


class SumPool2d(nn.Module):
    r"""Scaled sum pooling of the paper's CNNs (no neuron after it).

    .. math:: Y = \gamma \sum_{(i, j) \in \text{window}} X_{ij}

    with window ``kernel_size x kernel_size``, stride ``kernel_size`` and
    :math:`\gamma = 1.1` by default. Takes ``[N, C, H, W]``; wrap it in
    :class:`FrameWise` for sequences.

    :param kernel_size: window size and stride
    :param scale: factor :math:`\gamma`

    Example::

        import torch
        from snntorch_tssl import SumPool2d

        y = SumPool2d(2)(torch.ones(1, 1, 4, 4))  # every entry 4.4
    """

    def __init__(self, kernel_size: int = 2, scale: float = 1.1) -> None:
        super().__init__()
        self.kernel_size = check_int("kernel_size", kernel_size, minimum=1)
        self.scale = check_positive("scale", scale)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor shaped [N, C, H, W], got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"x must have a floating dtype, got {x.dtype}")
        if x.dim() != 4 or min(x.shape[-2:]) < self.kernel_size:
            raise ValueError(
                f"x must be [N, C, H, W] with H, W >= kernel_size={self.kernel_size}, got shape {tuple(x.shape)}"
            )
        return F.avg_pool2d(x, self.kernel_size, divisor_override=1) * self.scale  # a window sum, times scale

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, scale={self.scale}"
