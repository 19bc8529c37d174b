"""Uncertainty-Aware Mean Teacher, UA-MT (Yu, Wang, Li, Fu & Heng, MICCAI 2019).

Mean Teacher whose consistency is restricted to voxels where the teacher is certain. The teacher runs
``uncertainty_T`` = 8 passes on noisy copies of the unlabeled batch (Gaussian noise, std ``noise``; our networks
have no dropout, so input noise is the only source of stochasticity); p_bar is their mean softmax, the
uncertainty u = -sum_c p_bar_c log p_bar_c, and a voxel is kept where u < (threshold_start + (threshold_end -
threshold_start) r(t)) ln 2 with r the sigmoid ramp-up. The consistency target is p_bar:

    L = L_sup + cons_weight * r(t) * sum(mask * (softmax(f_s(u)) - p_bar)^2) / (C * sum(mask) + 1e-16).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from crosspan.methods.base import Batch, register_method
from crosspan.methods.ssl.mean_teacher import MeanTeacher


def entropy(p: torch.Tensor) -> torch.Tensor:
    """Per-voxel entropy (B, 1, ...) of class probabilities (B, C, ...), natural log."""
    return -(p * torch.log(p + 1e-6)).sum(1, keepdim=True)


def masked_mse(student: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the voxels (and classes) where ``mask`` (B, 1, ...) is 1."""
    dist = (student - target) ** 2
    return (mask * dist).sum() / (student.shape[1] * mask.sum() + 1e-16)


@register_method
class UAMT(MeanTeacher):
    name = "ua-mt"
    default_hparams: ClassVar[dict[str, Any]] = {**MeanTeacher.default_hparams, "uncertainty_T": 8,
                                                 "threshold_start": 0.75, "threshold_end": 1.0}
    forward_passes = 9

    def consistency(self, u_logits: torch.Tensor, unlabeled: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        hp = self.hparams
        image = unlabeled["image"].float()
        passes = [self.teacher_probs(image, float(hp["noise"])) for _ in range(int(hp["uncertainty_T"]))]
        p_bar = torch.stack(passes).mean(0)
        lo, hi = float(hp["threshold_start"]), float(hp["threshold_end"])
        threshold = (lo + (hi - lo) * self.ramp()) * math.log(2)
        mask = (entropy(p_bar) < threshold).float()
        loss = masked_mse(torch.softmax(u_logits, 1), p_bar, mask)
        return loss, {"certain": float(mask.mean())}
