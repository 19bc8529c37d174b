"""Shared SSL plumbing: the EMA teacher, the sigmoid ramp-up, mixed labeled + unlabeled forward passes.

SSL methods split ``update`` into :meth:`SSLMethod.loss` (the differentiable objective, so tests can inspect the
gradient of each term) and :meth:`SSLMethod.after_step` (e.g. the EMA teacher update). A step counter is a buffer,
so ramp-ups resume exactly from a checkpoint.
"""

from __future__ import annotations

import copy
import math
from typing import Any, ClassVar

import torch
from torch import nn

from crosspan.core.errors import CrosspanError
from crosspan.methods.base import Batch
from crosspan.methods.common import SupervisedMethod, split_outputs
from crosspan.methods.hparams import NON_NEGATIVE, PROBABILITY, Bound
from crosspan.transforms.random_intensity import random_clamped_noise


def sigmoid_rampup(step: int, rampup_steps: int) -> float:
    """exp(-5 (1 - t)^2), t = step / rampup_steps clipped to [0, 1] (Laine & Aila 2017; Tarvainen & Valpola 2017)."""
    if rampup_steps <= 0:
        return 1.0
    t = min(max(step / rampup_steps, 0.0), 1.0)
    return float(math.exp(-5.0 * (1.0 - t) ** 2))


def frozen_copy(network: nn.Module) -> nn.Module:
    """A deep copy with gradients off (the teacher)."""
    teacher = copy.deepcopy(network)
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, decay: float) -> None:
    """teacher <- decay * teacher + (1 - decay) * student for parameters; buffers are copied."""
    for t, s in zip(teacher.parameters(), student.parameters(), strict=True):
        t.mul_(decay).add_(s.detach(), alpha=1.0 - decay)
    for tb, sb in zip(teacher.buffers(), student.buffers(), strict=True):
        tb.copy_(sb)


def logits(network: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Full-resolution logits (deep-supervision heads dropped)."""
    return split_outputs(network(x), x.ndim)[0]


def take(out: torch.Tensor | list | tuple, ndim: int, sl: slice) -> list[torch.Tensor]:
    """The outputs (all deep-supervision levels) for the batch rows ``sl``."""
    return [o[sl] for o in split_outputs(out, ndim)]


class SSLMethod(SupervisedMethod):
    """Base of the SSL methods: ``loss`` + ``after_step``; without an unlabeled batch it trains supervised only."""

    step_count: torch.Tensor  # buffer: optimizer steps taken (for the ramp-up)

    needs_unlabeled: ClassVar[bool] = True
    default_hparams: ClassVar[dict[str, Any]] = {**SupervisedMethod.default_hparams, "rampup_steps": 200}
    hparam_bounds: ClassVar[dict[str, Bound]] = {"rampup_steps": NON_NEGATIVE}

    def __init__(self, network: nn.Module, domains: list[str], hparams: dict[str, Any] | None = None) -> None:
        super().__init__(network, domains, hparams)
        self.register_buffer("step_count", torch.zeros((), dtype=torch.long))

    def ramp(self) -> float:
        return sigmoid_rampup(int(self.step_count), int(self.hparams["rampup_steps"]))

    def student_forward(self, labeled: Batch, unlabeled: Batch | None,
                        network: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One forward pass over labeled + unlabeled images; returns (supervised loss, unlabeled logits)."""
        net = network or self.network
        x, y = labeled["image"], labeled["label"]
        n = x.shape[0]
        xs = x if unlabeled is None else torch.cat([x, unlabeled["image"].to(x.dtype)], 0)
        with self.autocast(x.device):
            out = net(xs)
        sup = self.supervised_loss(take(out, x.ndim, slice(0, n)), y)
        u_logits = None if unlabeled is None else take(out, x.ndim, slice(n, None))[0].float()
        return sup, u_logits

    def loss(self, labeled: Batch, unlabeled: Batch | None) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def after_step(self) -> None:
        """Called after the optimizer step (EMA updates)."""

    def update(self, labeled: Batch, unlabeled: Batch | None = None) -> dict[str, float]:
        loss, logs = self.loss(labeled, unlabeled)
        self.step(loss)
        self.after_step()
        self.step_count += 1
        return {"loss": float(loss.detach()), **logs, "lr": self.current_lr()}


class TeacherMethod(SSLMethod):
    """An SSL method with an EMA teacher (``self.teacher``, saved in the state dict); ``predict_with`` picks the
    network used at test time."""

    default_hparams: ClassVar[dict[str, Any]] = {**SSLMethod.default_hparams, "ema_decay": 0.99,
                                                 "predict_with": "teacher"}
    hparam_bounds: ClassVar[dict[str, Bound]] = {"ema_decay": PROBABILITY}

    def __init__(self, network: nn.Module, domains: list[str], hparams: dict[str, Any] | None = None) -> None:
        super().__init__(network, domains, hparams)
        if self.hparams["predict_with"] not in ("teacher", "student"):
            raise CrosspanError(None, f"predict_with={self.hparams['predict_with']!r}",
                                "use --hp predict_with=teacher|student")
        self.teacher = frozen_copy(network)

    def train(self, mode: bool = True) -> TeacherMethod:
        super().train(mode)
        self.teacher.eval()  # the teacher never trains; its buffers follow the student's
        return self

    def after_step(self) -> None:
        ema_update(self.teacher, self.network, float(self.hparams["ema_decay"]))

    @torch.no_grad()
    def teacher_probs(self, image: torch.Tensor, noise: float = 0.0) -> torch.Tensor:
        x, _ = random_clamped_noise(image, noise)
        with self.autocast(image.device):
            out = logits(self.teacher, x)
        return torch.softmax(out.float(), 1)

    @torch.no_grad()
    def predict(self, image: torch.Tensor) -> torch.Tensor:
        if self.hparams["predict_with"] == "student":
            return super().predict(image)
        return torch.softmax(logits(self.teacher, image).float(), dim=1)
