"""Random spatial transforms: each draws its parameters, calls :mod:`crosspan.transforms.spatial` and returns
the output with the parameters it drew.

:func:`random_spatial` is the engine's spatial augmentation (nnU-Net defaults: rotation +-30 deg and scaling
0.7-1.4, each p=0.2; optional elastic deformation and mirroring); the training loop seeds its generator by
(seed, step), so augmentation is reproducible across resumes. :func:`random_resolution` is SynthSeg's
resolution randomization (Billot et al., Medical Image Analysis 2023, section 3.2).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from crosspan.transforms.spatial import coarse_resample, flip, rotation, warp


class SpatialParams(NamedTuple):
    """What :func:`random_spatial` drew: affine matrices (B, 3, 4) and elastic fields (B, Z, Y, X, 3), each None
    when nothing moved (no resampling at all), and the mirror flags (3, B) or None without mirroring."""

    theta: torch.Tensor | None
    field: torch.Tensor | None
    flips: torch.Tensor | None


def elastic_field(shape: list[int], g: torch.Generator, magnitude: float = 0.08, control: int = 5) -> torch.Tensor:
    """A smooth random displacement (1, Z, Y, X, 3) in normalized grid units: Gaussian noise on a ``control``^3
    lattice, upsampled by trilinear (B-spline-like) interpolation, as in the elastic deformation of Simard et al.
    (ICDAR 2003) used by nnU-Net's batchgenerators; ``magnitude`` is the largest shift as a fraction of the
    half-patch."""
    coarse = torch.randn(1, 3, control, control, control, generator=g).clamp_(-2, 2) * (magnitude / 2)
    field = F.interpolate(coarse, size=list(shape), mode="trilinear", align_corners=True)
    return field.permute(0, 2, 3, 4, 1)


def draw_spatial(b: int, shape: list[int], g: torch.Generator, p_rot: float = 0.2, p_scale: float = 0.2,
                 max_angle: float = 30.0, scale: tuple[float, float] = (0.7, 1.4), mirror: bool = False,
                 p_elastic: float = 0.0) -> SpatialParams:
    """The parameters of :func:`random_spatial` for ``b`` samples of spatial ``shape`` (on the CPU)."""
    thetas, moved = [], False
    for _ in range(b):
        m = torch.eye(3)
        u = torch.rand(4, generator=g)
        if u[0] < p_rot:
            m = rotation((torch.rand(3, generator=g) * 2 - 1) * math.radians(max_angle)) @ m
            moved = True
        if u[1] < p_scale:
            m = m / (scale[0] + float(torch.rand(1, generator=g)) * (scale[1] - scale[0]))
            moved = True
        thetas.append(torch.cat([m, torch.zeros(3, 1)], dim=1))
    fields = []
    if p_elastic > 0:  # draws only when enabled: runs without elastic keep their random streams
        for _ in range(b):
            warped = float(torch.rand(1, generator=g)) < p_elastic
            f = elastic_field(shape, g)
            fields.append(f if warped else torch.zeros_like(f))
            moved = moved or warped
    flips = torch.stack([torch.rand(b, generator=g) < 0.5 for _ in range(3)]) if mirror else None
    return SpatialParams(torch.stack(thetas) if moved else None, torch.cat(fields) if moved and fields else None,
                         flips)


def apply_spatial(image: torch.Tensor, label: torch.Tensor, params: SpatialParams
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`~crosspan.transforms.spatial.warp` then :func:`~crosspan.transforms.spatial.flip` as ``params``
    say (mirroring is in place)."""
    if params.theta is not None:
        image, label = warp(image, label, params.theta, params.field)
    if params.flips is not None:
        image, label = flip(image, label, params.flips)
    return image, label


def random_spatial(image: torch.Tensor, label: torch.Tensor, g: torch.Generator, p_rot: float = 0.2,
                   p_scale: float = 0.2, max_angle: float = 30.0, scale: tuple[float, float] = (0.7, 1.4),
                   mirror: bool = False, p_elastic: float = 0.0
                   ) -> tuple[torch.Tensor, torch.Tensor, SpatialParams]:
    """Random rotation/scaling (and elastic deformation with probability ``p_elastic``) per sample in one
    ``grid_sample``, then random mirroring; labels (and any label-like channels) by nearest neighbour."""
    params = draw_spatial(image.shape[0], list(image.shape[2:]), g, p_rot, p_scale, max_angle, scale, mirror,
                          p_elastic)
    return (*apply_spatial(image, label, params), params)


def random_resolution(img: torch.Tensor, z_max: float = 1.0, xy_max: float = 1.0,
                      gen: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sample of ``img`` (B, 1, Z, Y, X): acquisition on a grid coarser by U(1, z_max) along z and
    U(1, xy_max) in-plane, back on the input grid (:func:`~crosspan.transforms.spatial.coarse_resample`).
    Returns the factors (B, 3); with both maxima <= 1 nothing is drawn and the image is returned as is."""
    b = img.shape[0]
    if z_max <= 1.0 and xy_max <= 1.0:
        return img, torch.ones(b, 3, device=img.device)
    factors = draw_resolution(b, z_max, xy_max, img.device, gen)
    return coarse_resample(img, factors), factors


def draw_resolution(b: int, z_max: float, xy_max: float, device: torch.device,
                    gen: torch.Generator | None = None) -> torch.Tensor:
    """(B, 3) acquisition factors: U(1, z_max) along z, one U(1, xy_max) for both in-plane axes."""
    fz = 1.0 + (max(z_max, 1.0) - 1.0) * torch.rand(b, generator=gen, device=device)
    fxy = 1.0 + (max(xy_max, 1.0) - 1.0) * torch.rand(b, generator=gen, device=device)
    return torch.stack([fz, fxy, fxy], 1)
