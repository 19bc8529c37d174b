"""SLAug, saliency-balanced location-scale augmentation (Su et al., "Rethinking data augmentation for
single-source domain generalization in medical image segmentation", AAAI 2023), in 3D.

Intensities are min-max rescaled to [0, 1] per sample. Global location-scale augmentation (GLA): a monotonic
cubic Bezier curve (4 control points) then ``x * s + l`` with s ~ N(1, 0.1) clipped to [0.9, 1.1] and
l ~ N(0, 0.5) clipped so the median stays in [0, 1], then clipped to [0, 1]. Class-wise augmentation (CLA): the
same with an independent curve and location-scale for each class region of the **label** (the background curve
may be non-monotonic, the foreground one with probability 0.5), voxels below ``background_threshold`` kept.
Saliency-balanced fusion: the input gradient of the GLA loss, magnitude averaged on a grid of ``grid`` voxels,
trilinearly upsampled and rescaled to [0, 1] per sample, gives ``S``; the fused image is S * GLA + (1 - S) * CLA.
Loss = Dice+CE(GLA) + Dice+CE(fused): two forward passes (plus the input-gradient backward). Differences: 3D,
batched torch; the augmented [0, 1] intensities are mapped back to each image's original (z-scored) range.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from crosspan.methods.base import Batch, register_method
from crosspan.methods.dg.augment_base import AugmentMethod
from crosspan.transforms.batch import bshape, coin
from crosspan.transforms.intensity import minmax
from crosspan.transforms.random_intensity import random_location_scale, random_slaug_bezier_map


def saliency_map(grad: torch.Tensor, grid: int) -> torch.Tensor:
    """Gradient magnitude averaged on a ``grid``-voxel grid, upsampled and rescaled to [0, 1] per sample."""
    mag = grad.pow(2).mean(1, keepdim=True).sqrt()
    if grid > 1:
        pooled = F.avg_pool3d(mag, grid, grid, ceil_mode=True, count_include_pad=False)
        mag = F.interpolate(pooled, size=mag.shape[2:], mode="trilinear", align_corners=False)
    return minmax(mag)


@register_method
class SLAug(AugmentMethod):
    name = "slaug"
    table_order: ClassVar[int] = 10  # place among the DG methods in result tables
    default_hparams: ClassVar[dict[str, Any]] = {**AugmentMethod.default_hparams, "scale_std": 0.1,
                                                 "shift_std": 0.5, "grid": 3, "background_threshold": 0.01}
    forward_passes = 2

    def _unit(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        flat = image.flatten(1)
        lo, hi = bshape(flat.min(1).values), bshape(flat.max(1).values)
        return (image - lo) / (hi - lo + 1e-6), lo, hi

    def global_aug(self, x01: torch.Tensor) -> torch.Tensor:
        b = x01.shape[0]
        y, _ = random_slaug_bezier_map(x01, torch.ones(b, dtype=torch.bool, device=x01.device))
        return random_location_scale(y, self.hparams["scale_std"], self.hparams["shift_std"])[0]

    def class_aug(self, x01: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        b, out = x01.shape[0], torch.zeros_like(x01)
        lab = label.expand_as(x01) if label.shape[1] == 1 else label
        for c in range(int(label.max()) + 1):
            mono = torch.zeros(b, dtype=torch.bool, device=x01.device) if c == 0 else ~coin(b, 0.5, x01)
            y, _ = random_slaug_bezier_map(x01, mono)
            y, _ = random_location_scale(y, self.hparams["scale_std"], self.hparams["shift_std"])
            out = torch.where(lab == c, y, out)
        return torch.where(x01 <= self.hparams["background_threshold"], x01, out)

    def views(self, image: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(GLA, CLA) in the image's original intensity range."""
        x01, lo, hi = self._unit(image)
        gla, cla = self.global_aug(x01), self.class_aug(x01, label)
        return lo + gla * (hi - lo), lo + cla * (hi - lo)

    def augment(self, image: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return torch.cat(self.views(image, label), 0)

    def update(self, labeled: Batch, unlabeled: Batch | None = None) -> dict[str, float]:
        image, label = labeled["image"], labeled["label"]
        with torch.no_grad():
            gla, cla = self.views(image.float(), label)
        gla.requires_grad_(True)
        with self.autocast(image.device):
            out1 = self.network(gla)
        loss1 = self.supervised_loss(out1, label)
        grad = torch.autograd.grad(loss1, gla, retain_graph=True)[0]
        with torch.no_grad():
            sal = saliency_map(grad.float(), int(self.hparams["grid"]))
            fused = gla.detach() * sal + cla * (1 - sal)
        with self.autocast(image.device):
            out2 = self.network(fused)
        loss2 = self.supervised_loss(out2, label)
        loss = loss1 + loss2
        self.step(loss)
        return {"loss": float(loss.detach()), "loss_gla": float(loss1.detach()), "loss_sbf": float(loss2.detach()),
                "lr": self.current_lr()}
