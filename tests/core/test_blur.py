"""The one Gaussian blur: per-axis sigmas against scipy, and a tiny sigma leaves the image as it is."""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from crosspan.core.blur import gaussian_blur


def test_per_axis_sigmas_match_scipy() -> None:
    x = torch.randn(2, 2, 14, 16, 18, generator=torch.Generator().manual_seed(0))
    sig = torch.tensor([[0.5, 1.0, 1.5], [1.2, 0.6, 0.9]])
    y = gaussian_blur(x, sig, truncate=4.0)
    for i in range(2):
        for c in range(2):
            ref = gaussian_filter(x[i, c].numpy(), sig[i].tolist(), mode="nearest", truncate=4.0)
            assert np.abs(y[i, c].numpy() - ref).max() < 1e-4


def test_one_sigma_a_sample_equals_the_same_sigma_on_every_axis() -> None:
    x = torch.rand(3, 1, 10, 10, 10)
    sig = torch.tensor([0.4, 1.0, 2.0])
    assert torch.allclose(gaussian_blur(x, sig), gaussian_blur(x, sig[:, None].expand(3, 3)))


def test_sigma_below_the_floor_is_identity() -> None:
    x = torch.rand(1, 1, 8, 8, 8)
    assert torch.allclose(gaussian_blur(x, torch.zeros(1), min_sigma=1e-3), x)
