"""Deterministic spatial transforms of a batch: an affine (plus displacement field) warp and mirroring move the
image and its label maps together; resampling to a coarser grid and back models a thicker acquisition.

The random transforms of :mod:`crosspan.transforms.random_spatial` draw their parameters.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def rotation(angles: torch.Tensor) -> torch.Tensor:
    """3x3 rotation matrix Rz Ry Rx from three angles (radians) about the x, y and z axes of the grid."""
    a, b, c = (float(x) for x in angles)
    rx = torch.tensor([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = torch.tensor([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = torch.tensor([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def warp(image: torch.Tensor, label: torch.Tensor, theta: torch.Tensor,
         field: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One ``grid_sample`` of image (bilinear) and label maps (nearest) through affine matrices ``theta``
    (B, 3, 4) plus an optional displacement ``field`` (B, Z, Y, X, 3) in normalized grid units; zeros outside."""
    theta = theta.to(image.device, image.dtype)
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    if field is not None:
        grid = grid + field.to(grid.device, grid.dtype)
    image = F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    label = F.grid_sample(label.to(image.dtype), grid, mode="nearest", padding_mode="zeros",
                          align_corners=False).long()
    return image, label


def flip(image: torch.Tensor, label: torch.Tensor, flips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip the samples where ``flips`` (3, B) is True along z, y and x (in place, image and label alike)."""
    for ax, axis_flips in zip((2, 3, 4), flips, strict=True):
        if axis_flips.any():
            idx = axis_flips.nonzero().flatten().to(image.device)
            image[idx] = image[idx].flip(ax)
            label[idx] = label[idx].flip(ax)
    return image, label


def coarse_shape(shape: tuple[int, ...], factors: torch.Tensor) -> tuple[int, int, int]:
    """The (z, y, x) grid ``factors`` (3,) times coarser than ``shape`` (at least one voxel an axis)."""
    cz, cy, cx = (max(1, round(n / float(f))) for n, f in zip(shape, factors, strict=True))
    return cz, cy, cx


def coarse_resample(img: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Per sample of ``img`` (B, 1, Z, Y, X): down-sample by ``factors`` (B, 3) along z, y, x (area averaging =
    the slice profile), then back to the input grid (trilinear). Factors of 1 leave the sample unchanged."""
    shape = img.shape[2:]
    out = []
    for i in range(img.shape[0]):
        coarse = coarse_shape(tuple(shape), factors[i])
        x = img[i:i + 1].float()
        if coarse != tuple(shape):
            x = F.interpolate(F.adaptive_avg_pool3d(x, coarse), size=tuple(shape), mode="trilinear",
                              align_corners=False)
        out.append(x)
    return torch.cat(out).to(img.dtype)
