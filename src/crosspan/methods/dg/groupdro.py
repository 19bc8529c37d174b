"""GroupDRO (Sagawa et al., "Distributionally robust neural networks for group shifts", ICLR 2020), over the
true training domains.

Keeps a distribution ``q`` over the training domains (a buffer, saved with the weights). Each step, for every
domain present in the batch, q_d <- q_d * exp(eta * risk_d), q is renormalized, and the loss is
sum_d q_d * risk_d (online exponentiated-gradient ascent on the worst group, as in the paper's Algorithm 1 and
DomainBed). Risks are Dice+CE on each domain's subset of the batch. Differences: 3D segmentation risks; groups
are center x sequence from ``labeled["domain"]``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from crosspan.methods.base import Batch, register_method
from crosspan.methods.common import SupervisedMethod
from crosspan.methods.dg.domain_risk import domain_risks


@register_method
class GroupDRO(SupervisedMethod):
    name = "groupdro"
    q: torch.Tensor  # buffer: the domain weights
    table_order: ClassVar[int] = 8  # place among the DG methods in result tables
    default_hparams: ClassVar[dict[str, Any]] = {**SupervisedMethod.default_hparams, "eta": 1e-2}
    forward_passes = 1

    def __init__(self, network: nn.Module, domains: list[str], hparams: dict[str, Any] | None = None) -> None:
        super().__init__(network, domains, hparams)
        n = max(1, len(self.domains))
        self.register_buffer("q", torch.full((n,), 1.0 / n))

    def update(self, labeled: Batch, unlabeled: Batch | None = None) -> dict[str, float]:
        image, label = labeled["image"], labeled["label"]
        with self.autocast(image.device):
            out = self.network(image)
        risks, present = domain_risks(self, out, label, labeled["domain"])
        with torch.no_grad():
            q = self.q.clone()
            q[present] = q[present] * torch.exp(self.hparams["eta"] * risks.detach().to(q))
            self.q.copy_(q / q.sum())
        loss = (self.q[present].to(risks) * risks).sum()
        self.step(loss)
        logs = {"loss": float(loss.detach()), "lr": self.current_lr()}
        logs.update({f"q/{self.domains[i]}": float(v) for i, v in enumerate(self.q) if i < len(self.domains)})
        return logs
