"""Anatomy-invariant SSL, after PancreasDG (Zhang, Peng et al., arXiv 2507.23110, 2025).

An EMA teacher (decay ``ema_decay``) pseudo-labels the unlabeled target-sequence patches; a contrast-agnostic
region partition R of each unlabeled image (``partition`` = felzenszwalb per axial slice or 3D slic, computed on the
CPU from the image alone, ``crosspan.methods.ssl.regions``) regularizes the student. With q the teacher's and p the
student's foreground probability on an unlabeled patch u, r(t) the sigmoid ramp-up:

- refined pseudo-label: y~(v) = 1[ mean_{w in R(v)} q(w) > 0.5 ] (a whole region is foreground or background);
- pseudo-label loss: L_pl = CE(f_s(u), y~), voxel-wise cross-entropy (no Dice term: most unlabeled patches hold
  no pancreas, and a Dice loss on an empty pseudo-label pushes every foreground probability to zero);
- region consistency: L_reg = mean over regions R of Var_{v in R}(p(v)), zero iff p is constant within regions;

    L = L_sup(labeled) + r(t) * (pl_weight * L_pl + region_weight * L_reg).

The published method's exact weights and graph construction are not public in full; these are ours. The
teacher predicts at test time (``predict_with``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from crosspan.core.errors import CrosspanError
from crosspan.methods.base import Batch, register_method
from crosspan.methods.ssl.common import TeacherMethod
from crosspan.methods.ssl.regions import batch_partition, refine_to_regions, region_variance


@register_method
class AnatomyInvariant(TeacherMethod):
    name = "anatomy-invariant"
    default_hparams: ClassVar[dict[str, Any]] = {
        **TeacherMethod.default_hparams, "pl_weight": 1.0, "region_weight": 1.0, "partition": "felzenszwalb",
        "scale": 100.0, "sigma": 0.5, "min_size": 20, "n_segments": 200, "compactness": 0.1}
    forward_passes = 2

    def __init__(self, network: nn.Module, domains: list[str], hparams: dict[str, Any] | None = None) -> None:
        super().__init__(network, domains, hparams)
        if self.hparams["partition"] not in ("felzenszwalb", "slic"):
            raise CrosspanError(None, f"partition={self.hparams['partition']!r}",
                                "use --hp partition=felzenszwalb|slic")

    def regions(self, image: torch.Tensor) -> torch.Tensor:
        hp = self.hparams
        return batch_partition(image, method=hp["partition"], scale=float(hp["scale"]), sigma=float(hp["sigma"]),
                               min_size=int(hp["min_size"]), n_segments=int(hp["n_segments"]),
                               compactness=float(hp["compactness"]))

    def loss(self, labeled: Batch, unlabeled: Batch | None) -> tuple[torch.Tensor, dict[str, float]]:
        sup, u_logits = self.student_forward(labeled, unlabeled)
        if unlabeled is None or u_logits is None:
            return sup, {"sup": float(sup.detach())}
        image = unlabeled["image"].float()
        regions = self.regions(image)
        q = self.teacher_probs(image)[:, 1]
        pseudo = refine_to_regions(q, regions)
        l_pl = F.cross_entropy(u_logits, pseudo)
        l_reg = region_variance(torch.softmax(u_logits, 1)[:, 1], regions)
        w = self.ramp()
        total = sup + w * (float(self.hparams["pl_weight"]) * l_pl + float(self.hparams["region_weight"]) * l_reg)
        return total, {"sup": float(sup.detach()), "pl": float(l_pl.detach()), "region": float(l_reg.detach()),
                       "pl_fg": float(pseudo.float().mean()), "regions": float(regions.max() + 1), "unsup_w": w}
