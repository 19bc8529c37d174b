"""RSC, Representation Self-Challenging (Huang et al., "Self-challenging improves cross-domain generalization",
ECCV 2020), in 3D.

Each step: a forward pass gives the head's input features ``f`` (:mod:`crosspan.methods.dg.head_features`) and
the logits; the gradient of the true-class logits with respect to ``f`` ranks the features. Channel-wise RSC
(gradient averaged over space, one score a channel) or spatial-wise RSC (gradient averaged over channels, one
score a voxel), drawn 50/50 as in the paper (``spatial_prob``), mutes the top ``feature_drop`` (1/3) of the
features of each sample. Only the samples whose true-class probability drops most under the mask (the top
``batch_drop``, 1/3, of the batch) keep it, the others are left whole (the paper's batch percentage). The head is
re-run on the muted features and **that** output (deep-supervision outputs unchanged) gives the Dice+CE loss, so
the gradient flows through the mask into the encoder. The authors' nnU-Net fork computed the masks and never
applied them.

Differences: 3D segmentation, the "features" are the decoder's last feature map rather than a pooled vector, and
the gradient is of the true-class logits summed over voxels; the loss is Dice+CE instead of CE.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from crosspan.methods.base import Batch, register_method
from crosspan.methods.common import SupervisedMethod, split_outputs
from crosspan.methods.dg.head_features import capture_head, find_head, with_main
from crosspan.methods.hparams import PROBABILITY, Bound

OPEN_UNIT = Bound(0.0, 1.0, low_open=True, high_open=True)


def feature_mask(grad: torch.Tensor, drop: float, spatial: bool) -> torch.Tensor:
    """1 where a feature is kept, 0 for the top ``drop`` fraction by gradient score, per sample.

    Channel-wise: (B, C, 1, 1, 1) from the spatial mean of ``grad``; spatial-wise: (B, 1, Z, Y, X) from its
    channel mean."""
    dims = tuple(range(2, grad.ndim))
    score = grad.mean(1, keepdim=True) if spatial else grad.mean(dims, keepdim=True)
    flat = score.flatten(1).float()
    thr = torch.quantile(flat, 1.0 - drop, dim=1, keepdim=True)
    keep = (flat < thr).to(grad.dtype)
    return keep.view(score.shape)


def true_class_prob(logits: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
    """Mean over voxels of the softmax probability of the true class, per sample (B,)."""
    return (torch.softmax(logits.float(), 1) * onehot).sum(1).flatten(1).mean(1)


@register_method
class RSC(SupervisedMethod):
    name = "rsc"
    default_hparams: ClassVar[dict[str, Any]] = {**SupervisedMethod.default_hparams, "feature_drop": 1 / 3,
                                                 "batch_drop": 1 / 3, "spatial_prob": 0.5}
    hparam_bounds: ClassVar[dict[str, Bound]] = {"feature_drop": OPEN_UNIT, "batch_drop": PROBABILITY,
                                                 "spatial_prob": PROBABILITY}
    forward_passes = 1  # plus the head twice more (the paper's cost)

    def __init__(self, network: nn.Module, domains: list[str], hparams: dict[str, Any] | None = None) -> None:
        super().__init__(network, domains, hparams)
        self.head = find_head(self.network)

    def objective(self, labeled: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The RSC loss and what made it: ``mask`` (as applied), ``grad``, ``features``, ``unmuted_loss``."""
        image, label = labeled["image"], labeled["label"]
        hp = self.hparams
        with capture_head(self.head) as cap, self.autocast(image.device):
            out = self.network(image)
        feats = cap.features
        assert feats is not None
        main = split_outputs(out, label.ndim)[0]
        onehot = F.one_hot(label[:, 0].long(), main.shape[1]).movedim(-1, 1).to(main.dtype)
        grad = torch.autograd.grad((main * onehot).sum(), feats, retain_graph=True)[0]
        with torch.no_grad():
            spatial = bool(torch.rand(()) < hp["spatial_prob"])
            mask = feature_mask(grad, float(hp["feature_drop"]), spatial)
            with self.autocast(image.device):
                drop = true_class_prob(main, onehot) - true_class_prob(self.head(feats * mask), onehot)
            thr = torch.quantile(drop.float(), 1.0 - float(hp["batch_drop"]))
            spared = (drop < thr).view(-1, *[1] * (mask.ndim - 1))
            mask = torch.where(spared, torch.ones_like(mask), mask)
        with self.autocast(image.device):
            muted = self.head(feats * mask)
        loss = self.supervised_loss(with_main(out, muted, label.ndim), label)
        with torch.no_grad():
            unmuted = self.supervised_loss(out, label)
        return loss, {"mask": mask, "grad": grad, "features": feats.detach(), "unmuted_loss": unmuted,
                      "spatial": torch.tensor(spatial)}

    def update(self, labeled: Batch, unlabeled: Batch | None = None) -> dict[str, float]:
        loss, info = self.objective(labeled)
        self.step(loss)
        return {"loss": float(loss.detach()), "loss_unmuted": float(info["unmuted_loss"]),
                "muted_fraction": float(1 - info["mask"].float().mean()), "lr": self.current_lr()}
