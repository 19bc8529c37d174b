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
from crosspan.methods.dg.augment_base import AugmentMethod
from crosspan.transforms.batch import coin, where
from crosspan.transforms.intensity import robust_unit, zscore
from crosspan.transforms.random_intensity import random_curve


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
        y, _ = random_curve(robust_unit(image), int(self.hparams["knots"]), self.hparams["p_invert"])
        return where(m, zscore(y), image)
