"""Intensity normalization for MRI: body mask, percentile clipping, per-image z-score (nnU-Net's MRI scheme)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

BodyMask = Literal["otsu", "noise-floor"]
BODY_MASKS: tuple[str, ...] = ("otsu", "noise-floor")
#: what new plans use (issue #17: ``otsu`` loses the body of fat-saturated T2 and keeps the air of low-offset T1)
DEFAULT_BODY_MASK: BodyMask = "noise-floor"
#: noise-floor mask: Gaussian smoothing (voxels) and the threshold in robust standard deviations of the background
FLOOR_SIGMA = 1.0
FLOOR_K = 5.0


def body_mask(image: np.ndarray, method: BodyMask | str = DEFAULT_BODY_MASK) -> np.ndarray:
    """Foreground (body) mask of a (z, y, x) image. ``otsu``: half the Otsu threshold on a smoothed copy, largest
    component, holes filled in 3D; it keeps only the brightest tissues of a fat-saturated or strongly biased scan.
    ``noise-floor`` (the default of new plans): see :func:`noise_floor_mask`."""
    if method == "noise-floor":
        return noise_floor_mask(image)
    if method != "otsu":
        raise ValueError(f"unknown body mask '{method}' (use {' or '.join(BODY_MASKS)})")
    img = image.astype(np.float32, copy=False)
    lo, hi = np.percentile(img, [1.0, 99.5])
    if hi <= lo:
        return np.ones(img.shape, dtype=bool)
    sm = ndimage.uniform_filter(np.clip(img, lo, hi), size=3)
    try:
        thr = threshold_otsu(sm[::2, ::2, ::2]) * 0.5
    except ValueError:
        return np.ones(img.shape, dtype=bool)
    mask = sm > thr
    lab, n = ndimage.label(mask)
    if n == 0:
        return np.ones(img.shape, dtype=bool)
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    mask = lab == int(np.argmax(sizes))
    return ndimage.binary_fill_holes(mask)


def noise_floor_mask(image: np.ndarray, sigma: float = FLOOR_SIGMA, k: float = FLOOR_K) -> np.ndarray:
    """Everything above the background noise: Otsu on the log of a Gaussian-smoothed copy splits air from tissue
    whatever the tissue contrast; the threshold is the air class's median + ``k`` robust SDs (1.4826 MAD), then the
    largest component, holes filled in 3D and per axial slice (axis 0)."""
    sm = ndimage.gaussian_filter(image.astype(np.float32, copy=False), sigma)
    hi = float(np.percentile(sm, 99.9))
    if hi <= 0 or float(sm.min()) >= hi:
        return np.ones(sm.shape, dtype=bool)
    lg = np.log(np.clip(sm, hi * 1e-3, hi))
    try:
        air = sm[lg <= threshold_otsu(lg[::2, ::2, ::2])]
    except ValueError:
        return np.ones(sm.shape, dtype=bool)
    med = float(np.median(air))
    lab, n = ndimage.label(sm > med + k * 1.4826 * float(np.median(np.abs(air - med))))
    if n == 0:
        return np.ones(sm.shape, dtype=bool)
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    mask = ndimage.binary_fill_holes(lab == int(np.argmax(sizes)))
    in_slice = np.zeros((3, 3, 3), dtype=bool)
    in_slice[1] = ndimage.generate_binary_structure(2, 1)
    return ndimage.binary_fill_holes(mask, structure=in_slice)


def bbox(mask: np.ndarray, margin: int = 2) -> list[tuple[int, int]]:
    """Bounding box (end exclusive) of ``mask`` with ``margin`` voxels, clipped to the array."""
    if not mask.any():
        return [(0, s) for s in mask.shape]
    out = []
    for ax in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != ax)
        idx = np.flatnonzero(mask.any(axis=other))
        out.append((max(0, int(idx[0]) - margin), min(mask.shape[ax], int(idx[-1]) + 1 + margin)))
    return out


def zscore(image: np.ndarray, mask: np.ndarray | None, clip: tuple[float, float] = (0.5, 99.5)) -> np.ndarray:
    """Clip to the ``clip`` percentiles (inside ``mask``), then z-score with the masked mean and std."""
    img = image.astype(np.float32, copy=False)
    vals = img[mask] if mask is not None and mask.any() else img.ravel()
    lo, hi = np.percentile(vals, clip)
    img = np.clip(img, lo, hi)
    vals = np.clip(vals, lo, hi)
    mean, std = float(vals.mean()), float(vals.std())
    return ((img - mean) / max(std, 1e-8)).astype(np.float32)


def nyul_normalize(image: np.ndarray, mask: np.ndarray | None, landmarks: dict) -> np.ndarray:
    """Nyul histogram standardization onto the plan's learned scale (see :mod:`crosspan.preprocess.nyul`), then
    the fixed affine map of the scale's [s_min, s_max] onto [-2, 2] so networks see unit-scale inputs."""
    from crosspan.preprocess.nyul import NyulLandmarks, apply_landmarks

    std = NyulLandmarks.from_dict(landmarks)
    out = apply_landmarks(image, std, mask if mask is not None and mask.any() else None)
    mid, half = (std.s_min + std.s_max) / 2.0, max((std.s_max - std.s_min) / 4.0, 1e-8)
    return ((out - mid) / half).astype(np.float32)


def learn_nyul(images_and_masks: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """Landmarks (percentiles 1, 99 and the deciles) learned on the training images inside their body masks."""
    from crosspan.preprocess.nyul import learn_landmarks

    std = learn_landmarks([i for i, _ in images_and_masks], [m for _, m in images_and_masks])
    return std.to_dict()
