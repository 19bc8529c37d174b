"""Spatial augmentation on a batch (nnU-Net defaults: rotation +-30 deg and scaling 0.7-1.4, each p=0.2;
optional elastic deformation and mirroring). Intensity augmentation belongs to methods. Parameters come from a
generator seeded by (seed, step), so augmentation is reproducible across resumes."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _rotation(angles: torch.Tensor) -> torch.Tensor:
    a, b, c = (float(x) for x in angles)
    rx = torch.tensor([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = torch.tensor([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = torch.tensor([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def elastic_field(shape: list[int], g: torch.Generator, magnitude: float = 0.08, control: int = 5) -> torch.Tensor:
    """A smooth random displacement (1, Z, Y, X, 3) in normalized grid units: Gaussian noise on a ``control``^3
    lattice, upsampled by trilinear (B-spline-like) interpolation, as in the elastic deformation of Simard et al.
    (ICDAR 2003) used by nnU-Net's batchgenerators; ``magnitude`` is the largest shift as a fraction of the
    half-patch."""
    coarse = torch.randn(1, 3, control, control, control, generator=g).clamp_(-2, 2) * (magnitude / 2)
    field = F.interpolate(coarse, size=list(shape), mode="trilinear", align_corners=True)
    return field.permute(0, 2, 3, 4, 1)


def spatial_augment(image: torch.Tensor, label: torch.Tensor, g: torch.Generator, p_rot: float = 0.2,
                    p_scale: float = 0.2, max_angle: float = 30.0, scale: tuple[float, float] = (0.7, 1.4),
                    mirror: bool = False, p_elastic: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random rotation/scaling (and elastic deformation with probability ``p_elastic``) per sample in one
    ``grid_sample``; labels (and any label-like channels) by nearest neighbour."""
    b = image.shape[0]
    thetas, moved = [], False
    for _ in range(b):
        m = torch.eye(3)
        u = torch.rand(4, generator=g)
        if u[0] < p_rot:
            m = _rotation((torch.rand(3, generator=g) * 2 - 1) * math.radians(max_angle)) @ m
            moved = True
        if u[1] < p_scale:
            m = m / (scale[0] + float(torch.rand(1, generator=g)) * (scale[1] - scale[0]))
            moved = True
        thetas.append(torch.cat([m, torch.zeros(3, 1)], dim=1))
    fields = []
    if p_elastic > 0:  # draws only when enabled: runs without elastic keep their random streams
        for _ in range(b):
            warp = float(torch.rand(1, generator=g)) < p_elastic
            f = elastic_field(list(image.shape[2:]), g)
            fields.append(f if warp else torch.zeros_like(f))
            moved = moved or warp
    if moved:
        theta = torch.stack(thetas).to(image.device, image.dtype)
        grid = F.affine_grid(theta, list(image.shape), align_corners=False)
        if fields:
            grid = grid + torch.cat(fields).to(grid.device, grid.dtype)
        image = F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        label = F.grid_sample(label.to(image.dtype), grid, mode="nearest", padding_mode="zeros",
                              align_corners=False).long()
    if mirror:
        for ax in (2, 3, 4):
            flip = torch.rand(b, generator=g) < 0.5
            if flip.any():
                idx = flip.nonzero().flatten().to(image.device)
                image[idx] = image[idx].flip(ax)
                label[idx] = label[idx].flip(ax)
    return image, label
