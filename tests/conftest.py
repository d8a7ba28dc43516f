from pathlib import Path

import pytest
import torch

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
