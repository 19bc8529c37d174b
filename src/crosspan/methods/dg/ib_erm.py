"""IB-ERM, information-bottleneck ERM (Ahuja et al., "Invariance principle meets information bottleneck for
out-of-distribution generalization", NeurIPS 2021), over the true training domains.

Loss = mean of the per-domain risks + lambda * the information-bottleneck penalty, the variance of the
representation: for each domain present in the batch, the variance of every feature channel over that domain's
samples and voxels, averaged over channels, then over domains (DomainBed's ``ib_penalty``). lambda is ``penalty``
from step ``warmup_steps`` (500) on and 0 before, as DomainBed anneals it. ``penalty`` is 0.1, the low end of
DomainBed's search range (10^U(-1, 5)), chosen by training-domain validation Dice (dg.yaml, seed 0, 2000 steps,
the protocol's validation split: 0.1 -> 0.923, 1 -> 0.906, 10 -> 0.869, ERM 0.927); DomainBed's default 100 pulled
the dense features flat (in-domain test Dice 0.320), since here the variance runs over voxels too. The
representation is the input of the output head (:mod:`crosspan.methods.dg.head_features`). The step counter is a
buffer saved with the weights.

Differences: 3D segmentation; the feature variance is over voxels as well as samples (a dense map, not a pooled
vector); risks are Dice+CE per domain (center x sequence); the optimizer is not reset when the penalty starts.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from crosspan.methods.base import Batch, register_method
from crosspan.methods.common import SupervisedMethod
from crosspan.methods.dg.domain_risk import domain_risks
from crosspan.methods.dg.head_features import capture_head, find_head
from crosspan.methods.hparams import NON_NEGATIVE, Bound


def feature_variance(features: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
    """Per-domain variance of each channel over samples and voxels, mean over channels, then over domains."""
    dom = domain.to(features.device)
    terms = []
    for d in torch.unique(dom):
        f = features[dom == d].float().transpose(0, 1).flatten(1)  # (C, n * voxels)
        terms.append(f.var(dim=1, unbiased=False).mean())
    return torch.stack(terms).mean()


@register_method
class IBERM(SupervisedMethod):
    name = "ib-erm"
    steps: torch.Tensor  # buffer: optimizer steps taken
    default_hparams: ClassVar[dict[str, Any]] = {**SupervisedMethod.default_hparams, "penalty": 0.1,
                                                 "warmup_steps": 500}
    hparam_bounds: ClassVar[dict[str, Bound]] = {"penalty": NON_NEGATIVE, "warmup_steps": NON_NEGATIVE}
    forward_passes = 1
    onset_hparams = ("warmup_steps",)

    def __init__(self, network: nn.Module, domains: list[str], hparams: dict[str, Any] | None = None) -> None:
        super().__init__(network, domains, hparams)
        self.head = find_head(self.network)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def penalty_weight(self) -> float:
        hp = self.hparams
        return float(hp["penalty"]) if int(self.steps) >= int(hp["warmup_steps"]) else 0.0

    def objective(self, labeled: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(loss, {"risk", "penalty", "features"}) for one batch."""
        image, label = labeled["image"], labeled["label"]
        with capture_head(self.head) as cap, self.autocast(image.device):
            out = self.network(image)
        assert cap.features is not None
        risks, _ = domain_risks(self, out, label, labeled["domain"])
        penalty = feature_variance(cap.features, labeled["domain"])
        loss = risks.mean() + self.penalty_weight() * penalty
        return loss, {"risk": risks.mean(), "penalty": penalty, "features": cap.features.detach()}

    def update(self, labeled: Batch, unlabeled: Batch | None = None) -> dict[str, float]:
        weight = self.penalty_weight()
        loss, info = self.objective(labeled)
        self.step(loss)
        self.steps += 1
        return {"loss": float(loss.detach()), "risk": float(info["risk"].detach()),
                "penalty": float(info["penalty"].detach()), "penalty_weight": weight, "lr": self.current_lr()}
