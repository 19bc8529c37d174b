"""Cross Pseudo Supervision (Chen, Yuan, Zeng & Wang, CVPR 2021).

Two networks of the same architecture, the second a copy re-initialised from another seed (``init_seed``). Each
is supervised on the labeled batch and trained on the other's hard pseudo-labels (argmax, no gradient) on the
labeled and unlabeled images:

    L = L_sup(f1) + L_sup(f2) + cps_weight * exp(-5 (1 - t)^2) * [CE(f1(x), argmax f2(x)) + CE(f2(x), argmax f1(x))]

over x in labeled + unlabeled. Prediction averages the two softmax outputs.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from crosspan.core.seeding import derive_seed
from crosspan.methods.base import Batch, register_method
from crosspan.methods.common import split_outputs
from crosspan.methods.ssl.common import SSLMethod, take


def reinitialised(network: nn.Module, seed: int) -> nn.Module:
    """A deep copy of ``network`` whose layers are re-initialised (``reset_parameters``) from ``seed``."""
    other = copy.deepcopy(network)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for mod in other.modules():
            reset = getattr(mod, "reset_parameters", None)
            if callable(reset) and mod is not other:
                reset()
    return other


def cross_pseudo_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """CE(a, argmax b) + CE(b, argmax a), pseudo-labels without gradient."""
    return F.cross_entropy(a, b.detach().argmax(1)) + F.cross_entropy(b, a.detach().argmax(1))


@register_method
class CrossPseudoSupervision(SSLMethod):
    name = "cps"
    default_hparams: ClassVar[dict[str, Any]] = {**SSLMethod.default_hparams, "cps_weight": 1.5, "init_seed": 1}
    forward_passes = 2

    def __init__(self, network: nn.Module, domains: list[str], hparams: dict[str, Any] | None = None) -> None:
        super().__init__(network, domains, hparams)
        self.network2 = reinitialised(network, derive_seed("cps", int(self.hparams["init_seed"])))

    def loss(self, labeled: Batch, unlabeled: Batch | None) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = labeled["image"], labeled["label"]
        xs = x if unlabeled is None else torch.cat([x, unlabeled["image"].to(x.dtype)], 0)
        n = x.shape[0]
        with self.autocast(x.device):
            out1, out2 = self.network(xs), self.network2(xs)
        sup1 = self.supervised_loss(take(out1, x.ndim, slice(0, n)), y)
        sup2 = self.supervised_loss(take(out2, x.ndim, slice(0, n)), y)
        l1, l2 = split_outputs(out1, x.ndim)[0].float(), split_outputs(out2, x.ndim)[0].float()
        cps = cross_pseudo_loss(l1, l2)
        w = float(self.hparams["cps_weight"]) * self.ramp()
        return sup1 + sup2 + w * cps, {"sup": float((sup1 + sup2).detach()) / 2, "cps": float(cps.detach()),
                                       "cps_w": w}

    @torch.no_grad()
    def predict(self, image: torch.Tensor) -> torch.Tensor:
        p1 = torch.softmax(split_outputs(self.network(image), image.ndim)[0].float(), 1)
        p2 = torch.softmax(split_outputs(self.network2(image), image.ndim)[0].float(), 1)
        return (p1 + p2) / 2
