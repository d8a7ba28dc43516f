"""Which implementation runs a sequence pass: PyTorch operations or fused Triton kernels."""

from __future__ import annotations

import functools
import os

import torch

#: Values of a sequence neuron's ``backend`` argument.
BACKENDS = ("auto", "torch", "triton")
#: The environment variable that sets the default backend.
BACKEND_VARIABLE = "SNNTORCH_TSSL_BACKEND"


@functools.cache
def triton_available() -> bool:
    """Whether the ``triton`` package imports (it ships with PyTorch's CUDA wheels on Linux)."""
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def triton_interpreted() -> bool:
    """Whether Triton's interpreter runs the kernels (``TRITON_INTERPRET=1``, set before the kernels are
    first used): then they also run on CPU tensors, slowly, which is how the kernels are tested without
    a GPU."""
    return os.environ.get("TRITON_INTERPRET") == "1"


def default_backend() -> str:
    """The backend a neuron gets when none is given: :data:`BACKEND_VARIABLE` if set, else ``"auto"``."""
    value = os.environ.get(BACKEND_VARIABLE, "auto")
    if value not in BACKENDS:
        raise ValueError(f"{BACKEND_VARIABLE} must be one of {', '.join(map(repr, BACKENDS))}, got {value!r}")
    return value


def resolve_backend(backend: str, like: torch.Tensor) -> str:
    """The implementation, ``"torch"`` or ``"triton"``, of a pass over ``like`` (the compute dtype).

    ``"auto"`` picks Triton for float32 CUDA tensors when triton imports, else PyTorch; ``"triton"``
    uses Triton for float32 and falls back to PyTorch for float64 (the kernels compute in float32).
    Decided from the device, dtype and installed packages only, never from tensor values.
    """
    if backend == "torch" or like.dtype != torch.float32:
        return "torch"
    if backend == "auto":
        return "triton" if like.device.type == "cuda" and triton_available() else "torch"
    if not triton_available():
        raise RuntimeError("backend='triton' needs the triton package (pip install triton); use 'auto' or 'torch'")
    if like.device.type != "cuda" and not (like.device.type == "cpu" and triton_interpreted()):
        raise ValueError(
            f"backend='triton' runs CUDA tensors (and CPU tensors under TRITON_INTERPRET=1, for testing), "
            f"got a tensor on {like.device.type}; use backend='auto' or 'torch'"
        )
    return "triton"
