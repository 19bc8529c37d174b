"""MixStyle (Zhou et al., "Domain generalization with MixStyle", ICLR 2021), on 3D feature maps.

After the first ``n_blocks`` encoder blocks, with probability ``p`` per forward pass in training, each sample's
channel-wise mean/std (over Z, Y, X; detached as in the paper) are mixed with those of another sample of the
batch by lambda ~ Beta(alpha, alpha). ``mode=random`` shuffles the batch; ``mode=crossdomain`` pairs samples from
different training domains where the batch has them (else it falls back to a shuffle). Differences: 3D features;
hooks sit after the conv-norm-act blocks of an instance-normalized U-Net instead of ResNet stages.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from crosspan.methods.base import register_method
from crosspan.methods.dg.feature_stats import FeatureStatsMethod, instance_stats


def mix_permutation(b: int, domain: torch.Tensor | None, mode: str, device: torch.device) -> torch.Tensor:
    """A batch permutation; in ``crossdomain`` mode each sample is paired with one from another domain if any."""
    perm = torch.randperm(b, device=device)
    if mode != "crossdomain" or domain is None:
        return perm
    domain = domain.to(device)
    for i in range(b):
        others = (domain != domain[i]).nonzero().flatten()
        if len(others):
            perm[i] = others[torch.randint(len(others), (1,), device=device)]
    return perm


@register_method
class MixStyle(FeatureStatsMethod):
    name = "mixstyle"
    table_order: ClassVar[int] = 6  # place among the DG methods in result tables
    default_hparams: ClassVar[dict[str, Any]] = {**FeatureStatsMethod.default_hparams, "alpha": 0.1,
                                                 "mode": "random"}

    def perturb(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        mu, sig = instance_stats(x)
        mu, sig = mu.detach(), sig.detach()
        normed = (x - mu) / sig
        a = float(self.hparams["alpha"])
        lam = torch.distributions.Beta(a, a).sample((b,)).to(x.device, x.dtype).reshape(b, 1, 1, 1, 1)
        perm = mix_permutation(b, self._domain, self.hparams["mode"], x.device)
        return normed * (lam * sig + (1 - lam) * sig[perm]) + (lam * mu + (1 - lam) * mu[perm])
