"""DSU, domain shifts with uncertainty (Li et al., "Uncertainty modeling for out-of-distribution
generalization", ICLR 2022), on 3D feature maps.

After the first ``n_blocks`` encoder blocks, with probability ``p`` per forward pass in training, each sample's
channel-wise mean and std are replaced by draws from Gaussians centred on them whose variance is the batch
variance of that statistic: beta = mu + eps * Sigma(mu), gamma = sigma + eps * Sigma(sigma), eps ~ N(0, 1).
Differences: 3D features; hooks after the conv-norm-act blocks of an instance-normalized U-Net.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from crosspan.methods.base import register_method
from crosspan.methods.dg.feature_stats import FeatureStatsMethod, instance_stats


@register_method
class DSU(FeatureStatsMethod):
    name = "dsu"
    table_order: ClassVar[int] = 7  # place among the DG methods in result tables
    default_hparams: ClassVar[dict[str, Any]] = {**FeatureStatsMethod.default_hparams, "factor": 1.0}

    def perturb(self, x: torch.Tensor) -> torch.Tensor:
        mu, sig = instance_stats(x)
        sd_mu = (mu.var(0, keepdim=True) + 1e-6).sqrt()
        sd_sig = (sig.var(0, keepdim=True) + 1e-6).sqrt()
        f = float(self.hparams["factor"])
        beta = mu + torch.randn_like(mu) * sd_mu * f
        gamma = sig + torch.randn_like(sig) * sd_sig * f
        return (x - mu) / sig * gamma + beta
