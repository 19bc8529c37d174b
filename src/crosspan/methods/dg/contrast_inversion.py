"""Contrast inversion (ours): random non-monotonic intensity remapping aimed at sequence shift.

CrossPan (Peng et al., MIDL 2026) finds that T1 -> T2 / OOP shift is a physics-driven contrast change: tissues
swap their order of brightness, which monotonic augmentations (BigAug gamma, Bezier curves) never produce. With
probability ``p`` per sample, intensities rescaled to [0, 1] (robust min/max at the 0.5/99.5 percentiles of a
subsample) pass through a random piecewise-linear curve with ``knots`` free knot values in [0, 1] (slopes of
either sign) or, with probability ``p_invert``, through a full inversion ``1 - x``; the result is re-standardized.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from crosspan.methods.base import register_method
from crosspan.methods.dg.augment_base import AugmentMethod, bshape, coin, interp1d, where, zscore


def robust_unit(x: torch.Tensor, q: float = 0.005, sample: int = 32768) -> torch.Tensor:
    """Per-sample rescaling to [0, 1] by the q / 1-q quantiles (estimated on a strided subsample), clipped."""
    flat = x.flatten(1)
    sub = flat[:, :: max(1, flat.shape[1] // sample)]
    qs = torch.quantile(sub, torch.tensor([q, 1 - q], device=x.device, dtype=x.dtype), dim=1)
    lo, hi = bshape(qs[0], x.ndim), bshape(qs[1], x.ndim)
    return ((x - lo) / (hi - lo + 1e-6)).clamp(0, 1)


def random_curve(x01: torch.Tensor, knots: int, p_invert: float) -> torch.Tensor:
    """Random piecewise-linear map of [0, 1] intensities, full inversion with probability ``p_invert``."""
    b = x01.shape[0]
    xp = torch.linspace(0, 1, knots, device=x01.device, dtype=x01.dtype).expand(b, knots)
    fp = torch.rand(b, knots, device=x01.device, dtype=x01.dtype)
    inv = coin(b, p_invert, x01)
    fp = torch.where(inv[:, None], 1 - xp, fp)
    return interp1d(x01, xp, fp)


@register_method
class ContrastInversion(AugmentMethod):
    name = "contrast-inversion"
    table_order: ClassVar[int] = 5  # place among the DG methods in result tables
    default_hparams: ClassVar[dict[str, Any]] = {**AugmentMethod.default_hparams, "p": 0.5, "p_invert": 0.3,
                                                 "knots": 5}
    forward_passes = 1

    def augment(self, image: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        m = coin(image.shape[0], self.hparams["p"], image)
        if not m.any():
            return image
        y = random_curve(robust_unit(image), int(self.hparams["knots"]), self.hparams["p_invert"])
        return where(m, zscore(y), image)
