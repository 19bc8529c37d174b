"""GIN-IPA: GIN plus interventional pseudo-correlation augmentation (Ouyang et al., "Causality-inspired
single-source domain generalization for medical image segmentation", IEEE TMI 2022), in 3D.

Three GIN views of the batch are drawn; a smooth random blend mask (random control points every ``grid`` voxels,
amplitude ``epsilon``, trilinear upsampling, rescaled per sample to [0, 1] as the authors' bias-field code does)
mixes the first two views into ``m*a + (1-m)*b`` and ``(1-m)*a + m*b``, and the third view stays plain GIN. The
loss is Dice+CE on all three views plus ``lambda_consistency`` times the KL divergence between each view's
prediction and their (detached) mean. Differences: 3D, trilinear instead of cubic B-spline interpolation of the
control points; three forward passes (one concatenated batch of 3B).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from crosspan.methods.base import Batch, register_method
from crosspan.methods.common import split_outputs
from crosspan.methods.dg.gin import GINBase
from crosspan.transforms.random_intensity import random_smooth_field


@register_method
class GINIPA(GINBase):
    name = "gin-ipa"
    table_order: ClassVar[int] = 4  # place among the DG methods in result tables
    default_hparams: ClassVar[dict[str, Any]] = {**GINBase.default_hparams, "grid": 24.0, "epsilon": 0.3,
                                                 "lambda_consistency": 10.0}
    forward_passes = 3

    def augment(self, image: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """(3B, ...) batch: two IPA-blended views and one plain GIN view."""
        hp = self.hparams
        a, b, c = self.gin(image), self.gin(image), self.gin(image)
        m, _ = random_smooth_field(tuple(image.shape), hp["grid"], hp["epsilon"], image.device, image.dtype)
        return torch.cat([m * a + (1 - m) * b, (1 - m) * a + m * b, c], 0)

    def update(self, labeled: Batch, unlabeled: Batch | None = None) -> dict[str, float]:
        image, label = labeled["image"], labeled["label"]
        with torch.no_grad():
            views = self.augment(image.float(), label)
        with self.autocast(image.device):
            out = self.network(views)
        seg = self.supervised_loss(out, label.repeat(3, 1, 1, 1, 1))
        logits = split_outputs(out, label.ndim)[0].float()
        logp = F.log_softmax(logits, 1).reshape(3, image.shape[0], *logits.shape[1:])
        mean_p = logp.exp().mean(0, keepdim=True).detach()
        kl = (mean_p * (mean_p.clamp_min(1e-8).log() - logp)).sum(2).mean()
        loss = seg + self.hparams["lambda_consistency"] * kl
        self.step(loss)
        return {"loss": float(loss.detach()), "seg": float(seg.detach()), "consistency": float(kl.detach()),
                "lr": self.current_lr()}
