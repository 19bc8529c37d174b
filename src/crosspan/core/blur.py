"""Separable 3D Gaussian blur of a batch, one sigma per sample (or per sample and axis), as grouped 1D
convolutions on the batch's device: the one blur behind the DG augmentations and the on-the-fly synthetic renderer.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor, truncate: float = 3.0, min_sigma: float = 1e-6) -> torch.Tensor:
    """Blur a real (B, C, Z, Y, X) batch; ``sigma`` in voxels, (B,) for one sigma a sample or (B, 3) for one an axis.

    Kernels reach ``truncate`` sigma (of the largest sigma in the batch), edges are replicated, and sigmas below
    ``min_sigma`` are raised to it (a near-zero sigma leaves the image as it is).
    """
    b, c = x.shape[:2]
    sig = sigma.reshape(b, -1).expand(b, 3)
    radius = max(1, int(math.ceil(truncate * float(sig.max()))))
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    y = x.reshape(1, b * c, *x.shape[2:])
    for axis in range(3):
        k = torch.exp(-0.5 * (t[None] / sig[:, axis, None].clamp_min(min_sigma)) ** 2)
        k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (B*C, K)
        shape = [1, 1, 1]
        shape[axis] = k.shape[1]
        pad = [0] * 6
        pad[2 * (2 - axis)] = pad[2 * (2 - axis) + 1] = radius
        y = F.pad(y, pad, mode="replicate").contiguous(memory_format=torch.channels_last_3d)  # oneDNN's fast path
        y = F.conv3d(y, k.reshape(b * c, 1, *shape), groups=b * c)
    return y.contiguous().reshape(x.shape)
