"""Paired-sequence SSL (ours: no published method or code does this).

When a patient has a labeled scan in the source sequence (e.g. T1) and an unlabeled one in the target sequence
(OOP, T2), ``crosspan ssl pair`` registers the two rigidly (Mattes MI) and transports the source label onto the
target scan; the engine brings that map into the unlabeled batch as ``pseudo_label`` (same crop and augmentation
as the image) with a registration-quality weight ``pseudo_weight`` in [0, 1]. By default (``quality_weights=false``)
w_b = 1 for every accepted pair and 0 for a rejected one, as the true-label bound's labels count; with
``quality_weights=true`` w_b is the pairing's weight itself. With r(t) the sigmoid ramp-up,
f_s the student and y_b the transported label of unlabeled patch u_b:

    L = L_sup(labeled) + r(t) * [ pair_weight * (1/B) sum_b w_b * (Dice_b + CE_b)(f_s(u_b), y_b)
                                  + teacher_weight * mean((softmax f_s(u) - softmax f_t(u + n))^2) ],

Dice_b the soft foreground Dice of sample b (only when y_b has foreground in the patch: a Dice on an empty patch
would only push every foreground probability down), CE_b its voxel-mean cross-entropy. The second term is Mean
Teacher's consistency (Tarvainen & Valpola, NeurIPS 2017; EMA teacher, Gaussian input noise), off by default.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from crosspan.core.errors import CrosspanError
from crosspan.methods.base import Batch, register_method
from crosspan.methods.ssl.common import TeacherMethod


def weighted_pair_loss(u_logits: torch.Tensor, pseudo: torch.Tensor, weight: torch.Tensor,
                       smooth: float = 1e-5) -> tuple[torch.Tensor, dict[str, float]]:
    """(1/B) sum_b w_b (Dice_b 1[y_b has foreground] + CE_b): per-sample, so w_b = 0 removes sample b."""
    y = pseudo[:, 0].long().clamp(0, 1)
    ce = F.cross_entropy(u_logits, y, reduction="none").flatten(1).mean(1)
    p = torch.softmax(u_logits, 1)[:, 1].flatten(1)
    t = y.flatten(1).float()
    has_fg = t.sum(1) > 0
    dice = 1.0 - (2.0 * (p * t).sum(1) + smooth) / (p.sum(1) + t.sum(1) + smooth)
    per = ce + torch.where(has_fg, dice, torch.zeros_like(dice))
    w = weight.to(per.dtype).reshape(-1)
    return (w * per).mean(), {"pair_ce": float(ce.mean().detach()), "pair_fg": float(t.mean()),
                              "pair_w": float(w.mean())}


@register_method
class PairedSequence(TeacherMethod):
    name = "paired-sequence"
    default_hparams: ClassVar[dict[str, Any]] = {**TeacherMethod.default_hparams, "pair_weight": 1.0,
                                                 "quality_weights": False, "teacher_weight": 0.0, "noise": 0.1,
                                                 "predict_with": "student"}
    forward_passes = 2
    #: runs before 2026-12-02 scaled each pair's loss by its registration weight (chosen on a validation SSL
    #: stress cohort: uniform weights higher on 8 of 10 target scans; benchmarks/results/stress.md)
    legacy_hparams: ClassVar[dict[str, Any]] = {"quality_weights": True}

    def loss(self, labeled: Batch, unlabeled: Batch | None) -> tuple[torch.Tensor, dict[str, float]]:
        sup, u_logits = self.student_forward(labeled, unlabeled)
        if unlabeled is None or u_logits is None:
            return sup, {"sup": float(sup.detach())}
        if "pseudo_label" not in unlabeled or "pseudo_weight" not in unlabeled:
            raise CrosspanError(None, "the unlabeled batch has no transported pseudo-labels (pseudo_label, "
                                "pseudo_weight)", "run `crosspan ssl pair DATA --splits S --fold K -o OUT`, then "
                                "`crosspan preprocess OUT/catalog.csv --splits S --fold K -o PLAN` and train on PLAN")
        weight = unlabeled["pseudo_weight"]
        if not self.hparams["quality_weights"]:
            weight = (weight > 0).to(weight.dtype)  # accepted pairs count fully, as the true-label bound's do
        pair, logs = weighted_pair_loss(u_logits, unlabeled["pseudo_label"], weight)
        r = self.ramp()
        total = sup + r * float(self.hparams["pair_weight"]) * pair
        logs = {"sup": float(sup.detach()), "pair": float(pair.detach()), "unsup_w": r, **logs}
        tw = float(self.hparams["teacher_weight"])
        if tw > 0:
            target = self.teacher_probs(unlabeled["image"].float(), float(self.hparams["noise"]))
            cons = ((torch.softmax(u_logits, 1) - target) ** 2).mean()
            total = total + r * tw * cons
            logs["cons"] = float(cons.detach())
        return total, logs
