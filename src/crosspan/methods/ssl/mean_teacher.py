"""Mean Teacher (Tarvainen & Valpola, NeurIPS 2017).

The teacher is the exponential moving average of the student (decay ``ema_decay`` = 0.99). On the unlabeled batch
the consistency term is the mean squared error between the student's softmax and the teacher's softmax on a
noisy copy of the input (Gaussian noise, std ``noise`` clipped at 2 std):

    L = L_sup(labeled) + cons_weight * exp(-5 (1 - t)^2) * mean((softmax(f_s(u)) - softmax(f_t(u + n)))^2),

t = step / ``rampup_steps`` clipped to 1. The teacher predicts at test time (``predict_with=teacher|student``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from crosspan.methods.base import Batch, register_method
from crosspan.methods.ssl.common import TeacherMethod


@register_method
class MeanTeacher(TeacherMethod):
    name = "mean-teacher"
    default_hparams: ClassVar[dict[str, Any]] = {**TeacherMethod.default_hparams, "cons_weight": 0.1,
                                                 "noise": 0.1}
    forward_passes = 2

    def consistency(self, u_logits: torch.Tensor, unlabeled: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        target = self.teacher_probs(unlabeled["image"].float(), float(self.hparams["noise"]))
        return ((torch.softmax(u_logits, 1) - target) ** 2).mean(), {}

    def loss(self, labeled: Batch, unlabeled: Batch | None) -> tuple[torch.Tensor, dict[str, float]]:
        sup, u_logits = self.student_forward(labeled, unlabeled)
        if unlabeled is None or u_logits is None:
            return sup, {"sup": float(sup.detach())}
        cons, logs = self.consistency(u_logits, unlabeled)
        w = float(self.hparams["cons_weight"]) * self.ramp()
        return sup + w * cons, {"sup": float(sup.detach()), "cons": float(cons.detach()), "cons_w": w, **logs}
