"""Acquisition randomization during a label-map draw (issue #17: survive data we never tuned to).

:func:`acquire_coarse`: SynthSeg's resolution randomization (Billot et al., Medical Image Analysis 2023, section
3.2) *during* the draw (SynthSeg's order: the acquisition resolution comes before the noise): the complex signal is
area-averaged to the coarse grid, the scanner effects (blur, bias, Rician noise) are applied there, then trilinear
back, so the noise has the acquired voxel size and is interpolated like a resampled thick-slice scan instead of being
averaged away. The randomizations after the draw (resolution, gamma, normalization jitter) are transforms:
:func:`crosspan.transforms.random_spatial.random_resolution`, :func:`crosspan.transforms.random_intensity.random_gamma`
and :func:`~crosspan.transforms.random_intensity.random_normalization_jitter`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from crosspan.transforms.random_spatial import draw_resolution
from crosspan.transforms.spatial import coarse_shape


def acquire_coarse(img: torch.Tensor, gen: torch.Generator, z_max: float, xy_max: float,
                   effects: Callable[[torch.Tensor, int], torch.Tensor]) -> torch.Tensor:
    """Per sample ``i`` of the complex signal ``img`` (B, 1, Z, Y, X): area-average real and imaginary parts to a
    grid coarser by U(1, z_max) along z and U(1, xy_max) in-plane, ``effects(coarse_sample, i)`` -> magnitude
    there, trilinear back to the input grid (float32, B, 1, Z, Y, X)."""
    b, shape = img.shape[0], tuple(img.shape[2:])
    factors = draw_resolution(b, z_max, xy_max, gen.device, gen)
    out = []
    for i in range(b):
        coarse = coarse_shape(shape, factors[i])
        x = img[i:i + 1]
        if coarse != shape:
            ri = F.adaptive_avg_pool3d(torch.cat([x.real, x.imag], 1).float(), coarse)
            x = torch.complex(ri[:, :1], ri[:, 1:])
        y = effects(x, i).float()
        if coarse != shape:
            y = F.interpolate(y, size=shape, mode="trilinear", align_corners=False)
        out.append(y)
    return torch.cat(out)
