"""Acquisition and normalization randomization for label-map draws (issue #17: survive data we never tuned to).

* :func:`resolution_randomize`: SynthSeg's resolution randomization (Billot et al., Medical Image Analysis 2023,
  section 3.2): each sample is acquired on a coarser grid (slice thickness and in-plane spacing up to ``z_max`` /
  ``xy_max`` times the training spacing, area averaging = the slice profile), then resampled back to the training
  grid by trilinear interpolation, as the preprocessing resamples a thick-slice test scan.
* :func:`acquire_coarse`: the same coarser grid *during* the draw (SynthSeg's order: the acquisition resolution
  comes before the noise): the complex signal is area-averaged to the coarse grid, the scanner effects (blur, bias,
  Rician noise) are applied there, then trilinear back, so the noise has the acquired voxel size and is
  interpolated like a resampled thick-slice scan instead of being averaged away.
* :func:`gamma_transform`: a random power of the magnitude image (SynthSeg's gamma), relative to its 99th
  percentile so the intensity scale is unchanged.
* :func:`normalization_jitter`: a random gain and offset after z-scoring. A whole-volume z-score depends on the
  body's size and fat content and on the field of view; the reference abdomen of
  :mod:`crosspan.methods.labelmap.normalize` fixes one of them, the jitter covers the rest.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def _u(gen: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen, device=gen.device)


def resolution_randomize(img: torch.Tensor, gen: torch.Generator, z_max: float = 1.0,
                         xy_max: float = 1.0) -> torch.Tensor:
    """Per sample of ``img`` (B, 1, Z, Y, X): down-sample by U(1, z_max) along z and U(1, xy_max) in-plane (area
    averaging), then back to the input grid (trilinear). Factors of 1 leave the sample unchanged."""
    if z_max <= 1.0 and xy_max <= 1.0:
        return img
    b, shape = img.shape[0], img.shape[2:]
    fz, fxy = _u(gen, b, 1.0, max(z_max, 1.0)), _u(gen, b, 1.0, max(xy_max, 1.0))
    out = []
    for i in range(b):
        coarse = [max(1, round(n / float(f))) for n, f in zip(shape, (fz[i], fxy[i], fxy[i]), strict=True)]
        x = img[i:i + 1].float()
        if tuple(coarse) != tuple(shape):
            x = F.interpolate(F.adaptive_avg_pool3d(x, coarse), size=tuple(shape), mode="trilinear",
                              align_corners=False)
        out.append(x)
    return torch.cat(out).to(img.dtype)


def acquire_coarse(img: torch.Tensor, gen: torch.Generator, z_max: float, xy_max: float,
                   effects: Callable[[torch.Tensor, int], torch.Tensor]) -> torch.Tensor:
    """Per sample ``i`` of the complex signal ``img`` (B, 1, Z, Y, X): area-average real and imaginary parts to a
    grid coarser by U(1, z_max) along z and U(1, xy_max) in-plane, ``effects(coarse_sample, i)`` -> magnitude
    there, trilinear back to the input grid (float32, B, 1, Z, Y, X)."""
    b, shape = img.shape[0], tuple(img.shape[2:])
    fz, fxy = _u(gen, b, 1.0, max(z_max, 1.0)), _u(gen, b, 1.0, max(xy_max, 1.0))
    out = []
    for i in range(b):
        coarse = tuple(max(1, round(n / float(f))) for n, f in zip(shape, (fz[i], fxy[i], fxy[i]), strict=True))
        x = img[i:i + 1]
        if coarse != shape:
            ri = F.adaptive_avg_pool3d(torch.cat([x.real, x.imag], 1).float(), coarse)
            x = torch.complex(ri[:, :1], ri[:, 1:])
        y = effects(x, i).float()
        if coarse != shape:
            y = F.interpolate(y, size=shape, mode="trilinear", align_corners=False)
        out.append(y)
    return torch.cat(out)


def gamma_transform(img: torch.Tensor, gen: torch.Generator, std: float = 0.0) -> torch.Tensor:
    """x -> q (x / q)^g per sample, g = exp(N(0, std)), q the sample's 99th percentile (on a subsample)."""
    if std <= 0:
        return img
    b = img.shape[0]
    flat = img.reshape(b, -1).float()
    stride = max(1, flat.shape[1] // 32768)
    q = torch.quantile(flat[:, ::stride], 0.99, dim=1).clamp_min(1e-6).reshape(-1, 1, 1, 1, 1)
    g = torch.exp(std * torch.randn(b, generator=gen, device=gen.device)).reshape(-1, 1, 1, 1, 1)
    return (q * (img.float().clamp_min(0) / q) ** g).to(img.dtype)


def normalization_jitter(x: torch.Tensor, gen: torch.Generator, amount: float = 0.0) -> torch.Tensor:
    """x * exp(U(-a, a)) + U(-a, a) per sample (z-units), a = ``amount``."""
    if amount <= 0:
        return x
    b = x.shape[0]
    gain = torch.exp(_u(gen, b, -amount, amount)).reshape(-1, 1, 1, 1, 1)
    shift = _u(gen, b, -amount, amount).reshape(-1, 1, 1, 1, 1)
    return x * gain.to(x.dtype) + shift.to(x.dtype)
