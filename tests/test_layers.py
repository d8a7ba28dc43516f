"""Frame-wise layers: SumPool2d is the exact window sum times its scale; FrameWise needs a frame per sample."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snntorch_tssl import FrameWise, SumPool2d


@pytest.mark.parametrize("kernel_size", [1, 2, 3])
def test_sum_pool_is_the_window_sum_times_scale(kernel_size):
    torch.manual_seed(0)
    x = torch.randn(3, 4, 7, 9, dtype=torch.float64)
    windows = F.unfold(x, kernel_size, stride=kernel_size)  # [N, C * k * k, L]
    height, width = 7 // kernel_size, 9 // kernel_size
    expected = 1.1 * windows.view(3, 4, kernel_size**2, -1).sum(dim=2).view(3, 4, height, width)
    torch.testing.assert_close(SumPool2d(kernel_size)(x), expected, rtol=1e-12, atol=1e-14)  # summation order


def test_two_by_two_sum_pool_is_bit_identical_to_the_scaled_average():
    """The paper's 2x2 pooling: dividing by 4 and multiplying back is exact, so 0.1.0's formula gives the same bits."""
    torch.manual_seed(0)
    x = torch.randn(250, 15, 24, 24)
    assert torch.equal(SumPool2d(2)(x), F.avg_pool2d(x, 2) * (1.1 * 4))


def test_frame_wise_refuses_a_two_dimensional_sequence():
    with pytest.raises(ValueError, match=r"x must be \[T, B, \.\.\.\] with at least one frame dimension.*\(5, 2\)"):
        FrameWise(nn.Linear(1, 3))(torch.rand(5, 2))
    assert FrameWise(nn.Linear(1, 3))(torch.rand(5, 2).unsqueeze(-1)).shape == (5, 2, 3)  # the fix it suggests
