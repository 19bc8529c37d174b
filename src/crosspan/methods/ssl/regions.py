"""Contrast-agnostic region partitions of an image and per-region statistics (for ``anatomy-invariant``).

The partition depends on the image alone (no labels): Felzenszwalb & Huttenlocher's graph segmentation (IJCV 2004)
per axial slice, or SLIC supervoxels (Achanta et al., TPAMI 2012) in 3D, both from scikit-image on the CPU, on
the image rescaled to [0, 1] by its 0.5 / 99.5 percentiles. Region boundaries are intensity edges, which a
contrast change (T1 -> OOP / T2) moves far less than it moves the intensities themselves.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from skimage.segmentation import felzenszwalb, slic


def unit(image: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(image, [0.5, 99.5])
    return np.clip((image - lo) / (hi - lo + 1e-6), 0, 1)


def partition(image: np.ndarray, method: str = "felzenszwalb", scale: float = 100.0, sigma: float = 0.5,
              min_size: int = 20, n_segments: int = 200, compactness: float = 0.1) -> np.ndarray:
    """Region ids 0..R-1 (int64, (Z, Y, X)) of one 3D image; every id occurs."""
    x = unit(np.asarray(image, dtype=np.float64))
    if method == "felzenszwalb":
        out = np.empty(x.shape, dtype=np.int64)
        offset = 0
        for z in range(x.shape[0]):
            lab = felzenszwalb(x[z], scale=scale, sigma=sigma, min_size=min_size)
            out[z] = lab + offset
            offset += int(lab.max()) + 1
    elif method == "slic":
        out = slic(x, n_segments=n_segments, compactness=compactness, channel_axis=None, start_label=0).astype(np.int64)
    else:
        raise ValueError(f"unknown partition '{method}' (use felzenszwalb or slic)")
    return np.unique(out, return_inverse=True)[1].reshape(x.shape).astype(np.int64)


def batch_partition(images: torch.Tensor, **kwargs: Any) -> torch.Tensor:
    """Region ids (B, Z, Y, X) for a batch (B, C, Z, Y, X), from channel 0, unique across the batch; ``kwargs`` as
    :func:`partition`."""
    arr = images[:, 0].detach().float().cpu().numpy()
    out, offset = [], 0
    for a in arr:
        r = partition(a, **kwargs)
        out.append(r + offset)
        offset += int(r.max()) + 1
    return torch.from_numpy(np.stack(out)).to(images.device)


def region_means(values: torch.Tensor, regions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-region mean of ``values`` and voxel counts; ``regions`` holds ids 0..R-1 of the same shape."""
    r, v = regions.reshape(-1), values.reshape(-1)
    n = int(r.max()) + 1
    counts = torch.bincount(r, minlength=n).to(v.dtype)
    sums = torch.zeros(n, device=v.device, dtype=v.dtype).index_add(0, r, v)
    return sums / counts.clamp_min(1), counts


def region_variance(values: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """Mean over regions of the variance of ``values`` inside the region (two-pass, so exactly constant values
    give 0 up to rounding)."""
    r, v = regions.reshape(-1), values.reshape(-1)
    mean, counts = region_means(v, r)
    sq = torch.zeros_like(mean).index_add(0, r, (v - mean[r]) ** 2)
    present = counts > 0
    return (sq[present] / counts[present]).mean()


def refine_to_regions(prob: torch.Tensor, regions: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Hard labels: a region is foreground where the mean of ``prob`` over it exceeds ``threshold``."""
    mean, _ = region_means(prob, regions)
    return (mean > threshold)[regions].long()
