"""Deterministic intensity maps: interpolation and Bezier curves (moved from tests/methods/dg/test_augment.py),
and every map leaves its input tensor as it was."""

from __future__ import annotations

import torch

from crosspan.transforms.intensity import bezier_curve, interp1d
from crosspan.transforms.random_intensity import random_bezier_map


def test_interp_and_bezier() -> None:
    xp = torch.tensor([[0.0, 0.5, 1.0]])
    fp = torch.tensor([[1.0, 0.0, 1.0]])
    assert torch.allclose(interp1d(torch.tensor([[0.25, 0.75, 1.0]]), xp, fp), torch.tensor([[0.5, 0.5, 1.0]]))
    xs, ys = bezier_curve(torch.tensor([[0.0, 1 / 3, 2 / 3, 1.0]]), torch.tensor([[0.0, 1 / 3, 2 / 3, 1.0]]))
    assert torch.allclose(xs, ys, atol=1e-6)  # collinear control points give the identity
    x = torch.rand(4, 1, 6, 6, 6)
    y, _ = random_bezier_map(x)
    order = x.flatten(1).argsort(1)
    assert (y.flatten(1).gather(1, order).diff(dim=1) >= -1e-5).all()  # monotonic
    yi, _ = random_bezier_map(x, torch.ones(4, dtype=torch.bool))
    assert (yi.flatten(1).gather(1, order).diff(dim=1) <= 1e-5).all()  # inverted: decreasing
