"""FixMatch in 3D (Sohn et al., NeurIPS 2020).

Weak view of an unlabeled patch: a random flip along each spatial axis (probability 0.5 each). Strong view: the
weak view passed through a random non-monotonic intensity curve (contrast inversion, ``crosspan.transforms``) and
additive Gaussian noise, so the two views stay voxel-aligned. The pseudo-label is the argmax of the network's
prediction on the weak view (no gradient); a voxel counts only where its max probability >= ``threshold``:

    L = L_sup(labeled) + lambda_u * mean_voxels( 1[max p_weak >= tau] * CE(f(strong), argmax p_weak) ).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from crosspan.methods.base import Batch, register_method
from crosspan.methods.ssl.common import SSLMethod, logits
from crosspan.transforms.batch import coin, where
from crosspan.transforms.intensity import robust_unit, zscore
from crosspan.transforms.random_intensity import random_curve, random_noise


def weak_view(x: torch.Tensor) -> torch.Tensor:
    """Per-sample random flips along each spatial axis."""
    out = x
    for axis in range(2, x.ndim):
        flip = coin(x.shape[0], 0.5, x)
        out = where(flip, out.flip(axis), out)
    return out


def strong_view(x: torch.Tensor, p_curve: float, p_invert: float, knots: int, noise: float) -> torch.Tensor:
    """Intensity-only strong augmentation: random curve (prob ``p_curve``) then Gaussian noise of random std."""
    y = where(coin(x.shape[0], p_curve, x), zscore(random_curve(robust_unit(x), knots, p_invert)[0]), x)
    return random_noise(y, noise)[0]


def masked_ce(strong_logits: torch.Tensor, weak_probs: torch.Tensor, threshold: float
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Confidence-masked cross-entropy (mean over all voxels) and the fraction of voxels kept."""
    conf, pseudo = weak_probs.max(1)
    mask = (conf >= threshold).float()
    ce = F.cross_entropy(strong_logits, pseudo, reduction="none")
    return (ce * mask).mean(), mask.mean()


@register_method
class FixMatch(SSLMethod):
    name = "fixmatch"
    default_hparams: ClassVar[dict[str, Any]] = {**SSLMethod.default_hparams, "threshold": 0.95, "lambda_u": 1.0,
                                                 "p_curve": 0.8, "p_invert": 0.3, "knots": 5, "noise": 0.2,
                                                 "rampup_steps": 0}
    forward_passes = 2

    def loss(self, labeled: Batch, unlabeled: Batch | None) -> tuple[torch.Tensor, dict[str, float]]:
        if unlabeled is None:
            sup, _ = self.student_forward(labeled, None)
            return sup, {"sup": float(sup.detach())}
        hp = self.hparams
        with torch.no_grad():
            weak = weak_view(unlabeled["image"].float())
            with self.autocast(weak.device):
                weak_probs = torch.softmax(logits(self.network, weak).float(), 1)
            strong = strong_view(weak, hp["p_curve"], hp["p_invert"], int(hp["knots"]), hp["noise"])
        sup, s_logits = self.student_forward(labeled, {"image": strong})
        assert s_logits is not None  # an unlabeled batch was given
        unsup, kept = masked_ce(s_logits, weak_probs, float(hp["threshold"]))
        w = float(hp["lambda_u"]) * self.ramp()
        return sup + w * unsup, {"sup": float(sup.detach()), "unsup": float(unsup.detach()), "mask": float(kept)}
