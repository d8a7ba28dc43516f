import os
from pathlib import Path

import pytest
import torch
from hypothesis import settings

# Without a GPU the Triton kernels are tested in Triton's interpreter, which must be chosen before any
# kernel is defined (the package loads its kernels on first use, after this file runs).
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

DATA = Path(__file__).parent / "data"


def time_first(x: torch.Tensor) -> torch.Tensor:
    """Golden vectors are (N, F, T); the package is time-first [T, N, F]."""
    return x.permute(2, 0, 1).contiguous()


@pytest.fixture(params=["layer_T5", "layer_T30"])
def golden_layer(request) -> dict:
    return torch.load(DATA / f"{request.param}.pt", weights_only=True)


@pytest.fixture(params=["stack_vanrossum_T5", "stack_vanrossum_T10", "stack_count_T30"])
def golden_stack(request) -> dict:
    return torch.load(DATA / f"{request.param}.pt", weights_only=True)


# Property-based tests: deterministic and bounded by default so the suite stays fast on CI;
# HYPOTHESIS_PROFILE=thorough explores many more random cases.
settings.register_profile("default", max_examples=30, deadline=None, derandomize=True, print_blob=True)
settings.register_profile("thorough", max_examples=1000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` are skipped where no CUDA device is present."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
