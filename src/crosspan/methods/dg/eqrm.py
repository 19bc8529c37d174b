"""EQRM, Empirical Quantile Risk Minimization (Eastwood et al., "Probable domain generalization via quantile risk
minimization", NeurIPS 2022), over the true training domains.

The loss is the ``quantile`` (alpha, 0.75) of the distribution of per-domain risks. As in the paper's code, that
distribution is a Gaussian kernel density estimate over the risks of the domains present in the batch
(bandwidth 1.06 * std * n^(-1/5), "Gauss-optimal"), and its alpha-quantile is found by bisection on the KDE's
CDF; its gradient comes from the implicit function theorem (d q / d r_i = k_i / sum_j k_j, k_i the kernel of risk
i at q; the bandwidth is held fixed), so it stays a weighted sum of the per-domain risks. ``kde=false`` uses the
empirical quantile (linear interpolation) instead. The first ``burnin_steps`` steps are ERM (the mean risk), as
in the paper and DomainBed (2500). Risks are Dice+CE on each domain's subset of the batch; a batch with one domain
gives that domain's risk.

Differences: 3D segmentation risks over center x sequence (the authors' nnU-Net fork grouped pairs of samples);
the optimizer is not reset to Adam at the end of burn-in (crosspan keeps nnU-Net's SGD-poly).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn
from torch.distributions import Normal

from crosspan.methods.base import Batch, register_method
from crosspan.methods.common import SupervisedMethod
from crosspan.methods.dg.domain_risk import domain_risks
from crosspan.methods.hparams import NON_NEGATIVE, Bound


def kde_bandwidth(risks: torch.Tensor) -> torch.Tensor:
    """Gauss-optimal rule of thumb, 1.06 * std * n^(-1/5) (floored so equal risks still give a kernel)."""
    n = risks.numel()
    std = risks.std(unbiased=True) if n > 1 else torch.zeros((), device=risks.device)
    return (1.06 * std * n ** (-0.2)).clamp_min(1e-4)


def kde_quantile(risks: torch.Tensor, alpha: float, steps: int = 60) -> torch.Tensor:
    """alpha-quantile of the Gaussian KDE of ``risks``, differentiable through the risks (see the docstring)."""
    r = risks.float()
    h = kde_bandwidth(r.detach())
    rd = r.detach()
    lo = float(rd.min() - 10 * h)
    hi = float(rd.max() + 10 * h)
    for _ in range(steps):  # bisection on the mixture CDF
        mid = 0.5 * (lo + hi)
        cdf = float(Normal(rd, h).cdf(torch.tensor(mid, device=rd.device)).mean())
        lo, hi = (mid, hi) if cdf < alpha else (lo, mid)
    q = torch.tensor(0.5 * (lo + hi), device=r.device)
    k = torch.exp(-0.5 * ((q - rd) / h) ** 2)
    w = k / k.sum() if float(k.sum()) > 0 else torch.full_like(k, 1.0 / k.numel())
    return q + (w * (r - rd)).sum()  # value q, gradient w (implicit function theorem)


def risk_quantile(risks: torch.Tensor, alpha: float, kde: bool = True) -> torch.Tensor:
    """The EQRM objective: the alpha-quantile of the per-domain risks."""
    if risks.numel() == 1:
        return risks.reshape(())
    if kde:
        return kde_quantile(risks, alpha)
    return torch.quantile(risks.float(), alpha)


@register_method
class EQRM(SupervisedMethod):
    name = "eqrm"
    steps: torch.Tensor  # buffer: optimizer steps taken
    default_hparams: ClassVar[dict[str, Any]] = {**SupervisedMethod.default_hparams, "quantile": 0.75,
                                                 "kde": True, "burnin_steps": 2500}
    hparam_bounds: ClassVar[dict[str, Bound]] = {"quantile": Bound(0.0, 1.0, low_open=True, high_open=True),
                                                 "burnin_steps": NON_NEGATIVE}
    forward_passes = 1
    onset_hparams = ("burnin_steps",)

    def __init__(self, network: nn.Module, domains: list[str], hparams: dict[str, Any] | None = None) -> None:
        super().__init__(network, domains, hparams)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def objective(self, labeled: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, per-domain risks): the mean risk during burn-in, their ``quantile`` afterwards."""
        image, label = labeled["image"], labeled["label"]
        with self.autocast(image.device):
            out = self.network(image)
        risks, _ = domain_risks(self, out, label, labeled["domain"])
        if int(self.steps) < int(self.hparams["burnin_steps"]):
            return risks.mean(), risks
        return risk_quantile(risks, float(self.hparams["quantile"]), bool(self.hparams["kde"])), risks

    def update(self, labeled: Batch, unlabeled: Batch | None = None) -> dict[str, float]:
        loss, risks = self.objective(labeled)
        self.step(loss)
        self.steps += 1
        return {"loss": float(loss.detach()), "risk": float(risks.mean().detach()),
                "risk_max": float(risks.max().detach()), "lr": self.current_lr()}


__all__ = ["EQRM", "kde_bandwidth", "kde_quantile", "risk_quantile"]
