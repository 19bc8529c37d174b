"""Spectral decoupling (Pezeshki et al., "Gradient starvation: a learning proclivity in neural networks",
NeurIPS 2021).

Loss = Dice+CE + lambda * the mean squared logit, an L2 penalty on the network's outputs (not its weights) that
decouples the learning of features and so counters gradient starvation. lambda is ``penalty`` (0.1, DomainBed's
``sd_reg``). The penalty is over the full-resolution logits, every voxel and class (deep-supervision outputs carry
only the segmentation loss).

Differences: 3D segmentation (the paper and DomainBed penalize one logit vector per image, here one per voxel);
Dice+CE instead of CE; the per-class target shifts of the paper's appendix are not used.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from crosspan.methods.base import Batch, register_method
from crosspan.methods.common import SupervisedMethod, split_outputs
from crosspan.methods.hparams import NON_NEGATIVE, Bound


def logit_penalty(logits: torch.Tensor) -> torch.Tensor:
    """Mean of the squared logits."""
    return logits.float().pow(2).mean()


@register_method
class SpectralDecoupling(SupervisedMethod):
    name = "sd"
    default_hparams: ClassVar[dict[str, Any]] = {**SupervisedMethod.default_hparams, "penalty": 0.1}
    hparam_bounds: ClassVar[dict[str, Bound]] = {"penalty": NON_NEGATIVE}
    forward_passes = 1

    def objective(self, labeled: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(loss, {"seg", "penalty", "logits"}) for one batch."""
        image, label = labeled["image"], labeled["label"]
        with self.autocast(image.device):
            out = self.network(image)
        seg = self.supervised_loss(out, label)
        main = split_outputs(out, label.ndim)[0]
        penalty = logit_penalty(main)
        return seg + float(self.hparams["penalty"]) * penalty, {"seg": seg, "penalty": penalty,
                                                                 "logits": main.detach()}

    def update(self, labeled: Batch, unlabeled: Batch | None = None) -> dict[str, float]:
        loss, info = self.objective(labeled)
        self.step(loss)
        return {"loss": float(loss.detach()), "seg_loss": float(info["seg"].detach()),
                "penalty": float(info["penalty"].detach()), "lr": self.current_lr()}
