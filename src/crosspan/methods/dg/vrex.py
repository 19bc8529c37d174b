"""V-REx (Krueger et al., "Out-of-distribution generalization via risk extrapolation", ICML 2021), over the
true training domains.

Loss = mean of the per-domain risks + lambda * variance of the per-domain risks (population variance over the
domains present in the batch), with lambda = ``penalty_pre`` (1) for the first ``warmup_steps`` steps and
``penalty`` (10) afterwards, as DomainBed anneals it. Risks are Dice+CE on each domain's subset of the batch; a
batch with a single domain has no penalty. The step counter is a buffer saved with the weights. Differences: 3D
segmentation risks; domains are center x sequence (the authors' nnU-Net fork grouped pairs of samples).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from crosspan.methods.base import Batch, register_method
from crosspan.methods.common import SupervisedMethod
from crosspan.methods.dg.domain_risk import domain_risks


def vrex_penalty(risks: torch.Tensor) -> torch.Tensor:
    """Population variance of the per-domain risks."""
    return ((risks - risks.mean()) ** 2).mean()


@register_method
class VREx(SupervisedMethod):
    name = "vrex"
    steps: torch.Tensor  # buffer: optimizer steps taken
    table_order: ClassVar[int] = 9  # place among the DG methods in result tables
    default_hparams: ClassVar[dict[str, Any]] = {**SupervisedMethod.default_hparams, "penalty": 10.0,
                                                 "penalty_pre": 1.0, "warmup_steps": 500}
    forward_passes = 1

    def __init__(self, network: nn.Module, domains: list[str], hparams: dict[str, Any] | None = None) -> None:
        super().__init__(network, domains, hparams)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def penalty_weight(self) -> float:
        hp = self.hparams
        return float(hp["penalty"] if int(self.steps) >= int(hp["warmup_steps"]) else hp["penalty_pre"])

    def update(self, labeled: Batch, unlabeled: Batch | None = None) -> dict[str, float]:
        image, label = labeled["image"], labeled["label"]
        with self.autocast(image.device):
            out = self.network(image)
        risks, _ = domain_risks(self, out, label, labeled["domain"])
        penalty = vrex_penalty(risks)
        weight = self.penalty_weight()
        loss = risks.mean() + weight * penalty
        self.step(loss)
        self.steps += 1
        return {"loss": float(loss.detach()), "risk": float(risks.mean().detach()),
                "penalty": float(penalty.detach()), "penalty_weight": weight, "lr": self.current_lr()}
