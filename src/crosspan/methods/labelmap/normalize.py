"""Normalize drawn patches as the preprocessing normalizes whole volumes.

The preprocessing (:func:`crosspan.preprocess.normalize.zscore`) z-scores each *volume* inside a body mask
(:func:`crosspan.preprocess.normalize.body_mask`) after clipping to the body's 0.5/99.5 percentiles. A training
patch is a small crop, so z-scoring the patch itself gives other offsets and scales than the test volumes get. Here
each drawn protocol's per-tissue signal is painted on a coarse reference anatomy (one synthetic abdomen, 8 x 7 x 7
mm, with the drawn noise), the preprocessing's own functions compute the clip range and z-score statistics on it,
and these are applied to the patch: the normalization depends on the protocol, not on where the patch lies. Which
mask: physics-rand's ``body_mask`` (``otsu``, whatever the plan's; benchmarks/results/stress.md).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from crosspan.preprocess.normalize import body_mask


@lru_cache(maxsize=2)
def reference_map(crop: bool = True) -> np.ndarray:
    """A coarse tissue map of one synthetic abdomen (field of view 200 x 252 x 336 mm, about the default cohort's,
    8 x 7 x 7 mm voxels), cropped to the body's bounding box (``crop``) or with the air around it."""
    from crosspan.synth.anatomy import rasterize, sample_anatomy

    z, y, x = ((np.arange(n) - (n - 1) / 2) * s for n, s in ((25, 8.0), (36, 7.0), (48, 7.0)))
    tissue = rasterize(sample_anatomy(np.random.default_rng(0)), z, y, x)
    if not crop:
        return tissue.astype(np.int64)
    idx = np.argwhere(tissue > 0)
    lo, hi = idx.min(0), idx.max(0) + 1
    return np.ascontiguousarray(tissue[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]).astype(np.int64)


def volume_stats(level: torch.Tensor, sigma: torch.Tensor, gen: torch.Generator,
                 clip: tuple[float, float] = (0.5, 99.5), mask: str = "otsu") -> dict[str, torch.Tensor]:
    """Clip range and z-score statistics (each (B,)) that the preprocessing computes on the reference anatomy
    drawn with the noise-free magnitude per tissue ``level`` (B, T) and Rician noise ``sigma`` (B,), inside the
    body mask ``mask`` (physics-rand's hyperparameter ``body_mask``; ``otsu`` by default). ``noise-floor``
    needs the air around the body to find the noise floor, so it sees the whole field of view; ``otsu`` keeps the
    body crop its statistics were defined on. (``noise-floor`` puts the pancreas z of the default and stress
    centers' T2 protocols where the noise-floor preprocessing puts it, yet trained worse on the validation stress
    cohort: benchmarks/results/stress.md.)"""
    ref = torch.from_numpy(reference_map(crop=mask == "otsu")).to(level.device)
    b = level.shape[0]
    clean = level.float()[:, ref.reshape(-1)].reshape(b, *ref.shape)
    s = sigma.float().reshape(-1, 1, 1, 1)
    noise = torch.randn((2, *clean.shape), generator=gen, device=gen.device) * s
    img = torch.sqrt((clean + noise[0]) ** 2 + noise[1] ** 2).cpu().numpy()
    out: dict[str, list[float]] = {"lo": [], "hi": [], "mean": [], "std": []}
    for i in range(b):
        vals = img[i][body_mask(img[i], mask)]
        lo, hi = np.percentile(vals, clip)
        vals = np.clip(vals, lo, hi)
        for k, v in zip(out, (lo, hi, vals.mean(), max(float(vals.std()), 1e-8)), strict=True):
            out[k].append(float(v))
    return {k: torch.tensor(v, device=level.device) for k, v in out.items()}


def apply_stats(image: torch.Tensor, stats: dict[str, torch.Tensor]) -> torch.Tensor:
    """Clip and z-score a batch (B, 1, Z, Y, X) with per-sample statistics from :func:`volume_stats`."""
    def col(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(-1, 1, 1, 1, 1).to(image.dtype)

    x = torch.minimum(torch.maximum(image, col(stats["lo"])), col(stats["hi"]))
    return (x - col(stats["mean"])) / col(stats["std"])
