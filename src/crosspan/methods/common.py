"""Shared plumbing for trainable methods: Dice+CE loss with deep supervision, SGD-poly / AdamW, AMP steps.

Follows nnU-Net (Isensee et al., Nature Methods 2021): Dice + cross-entropy, deep-supervision weights halving per
level and normalized, SGD with Nesterov momentum 0.99 and a poly learning-rate decay (exponent 0.9), gradient
norm clipped at 12. DG/SSL methods subclass :class:`SupervisedMethod` and reuse :meth:`supervised_loss` and
:meth:`step`.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from monai.losses import DiceCELoss

from crosspan.core.amp import autocast
from crosspan.core.distributed import average_gradients
from crosspan.methods.base import Batch, Method
from crosspan.methods.hparams import NON_NEGATIVE, POSITIVE, UNIT_OPEN, Bound


def ds_weights(n: int) -> list[float]:
    """nnU-Net's deep-supervision weights: 1, 1/2, 1/4, ... normalized to sum 1."""
    w = [0.5**i for i in range(n)]
    return [x / sum(w) for x in w]


def split_outputs(out: torch.Tensor | list | tuple, ndim: int) -> list[torch.Tensor]:
    """The network's outputs as a list, full resolution first (DynUNet stacks deep supervision on dim 1)."""
    if isinstance(out, (list, tuple)):
        return list(out)
    if out.ndim == ndim + 1:
        return list(out.unbind(1))
    return [out]


class SupervisedMethod(Method):
    """A method trained with a segmentation loss; ``optimizer`` is ``sgd`` (nnU-Net) or ``adamw``."""

    default_hparams: ClassVar[dict[str, Any]] = {
        "optimizer": "sgd", "lr": 1e-2, "momentum": 0.99, "weight_decay": 3e-5, "poly_exponent": 0.9,
        "grad_clip": 12.0, "lambda_dice": 1.0, "lambda_ce": 1.0,
    }
    hparam_bounds: ClassVar[dict[str, Bound]] = {
        "lr": POSITIVE, "momentum": UNIT_OPEN, "weight_decay": NON_NEGATIVE, "poly_exponent": NON_NEGATIVE,
        "grad_clip": POSITIVE, "lambda_dice": NON_NEGATIVE, "lambda_ce": NON_NEGATIVE,
    }

    def __init__(self, network: torch.nn.Module, domains: list[str], hparams: dict[str, Any] | None = None) -> None:
        super().__init__(network, domains, hparams)
        hp = self.hparams
        self.loss_fn = DiceCELoss(to_onehot_y=True, softmax=True, include_background=False, batch=True,
                                  lambda_dice=hp["lambda_dice"], lambda_ce=hp["lambda_ce"])
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: torch.optim.lr_scheduler.PolynomialLR | None = None
        self.scaler: torch.amp.GradScaler | None = None
        self.amp = "none"

    # ----- engine hooks -----
    def setup_training(self, total_steps: int, amp: str = "none") -> None:
        hp = self.hparams
        params = [p for p in self.parameters() if p.requires_grad]
        if hp["optimizer"] == "sgd":
            self.optimizer = torch.optim.SGD(params, lr=hp["lr"], momentum=hp["momentum"], nesterov=True,
                                             weight_decay=hp["weight_decay"])
        elif hp["optimizer"] == "adamw":
            self.optimizer = torch.optim.AdamW(params, lr=hp["lr"], weight_decay=hp["weight_decay"])
        else:
            from crosspan.core.errors import CrosspanError

            raise CrosspanError(None, f"unknown optimizer '{hp['optimizer']}'", "use --hp optimizer=sgd|adamw")
        self.scheduler = torch.optim.lr_scheduler.PolynomialLR(self.optimizer, total_iters=max(1, total_steps),
                                                               power=hp["poly_exponent"])
        self.amp = amp
        self.scaler = torch.amp.GradScaler("cuda") if amp == "fp16" and torch.cuda.is_available() else None

    def training_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {}
        if self.optimizer is not None:
            state["optimizer"] = self.optimizer.state_dict()
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        return state

    def load_training_state(self, state: dict[str, Any]) -> None:
        if self.optimizer is not None and "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])

    def extend_schedule(self, total_steps: int, step: int) -> None:
        """A resumed run extended to ``total_steps``: the polynomial LR continues as if the run had been planned
        that long (the LR at ``step`` of the longer schedule), so an extension never trains at the old end's 0."""
        if self.scheduler is None or self.optimizer is None:
            return
        power = float(self.hparams["poly_exponent"])
        self.scheduler.total_iters = max(1, total_steps)
        factor = max(0.0, 1.0 - step / max(1, total_steps)) ** power
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * factor
        self.scheduler._last_lr = [g["lr"] for g in self.optimizer.param_groups]  # noqa: SLF001 - torch's cache

    # ----- helpers for subclasses -----
    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        return autocast(self.amp, device)

    def supervised_loss(self, out: torch.Tensor | list | tuple, label: torch.Tensor) -> torch.Tensor:
        """Dice+CE over all deep-supervision outputs (labels downsampled by nearest), weighted as nnU-Net."""
        outs = split_outputs(out, label.ndim)
        total = torch.zeros((), device=label.device)
        for w, o in zip(ds_weights(len(outs)), outs, strict=True):
            lab = label if o.shape[2:] == label.shape[2:] else F.interpolate(label.float(), o.shape[2:]).long()
            total = total + w * self.loss_fn(o.float(), lab)
        return total

    def step(self, loss: torch.Tensor) -> None:
        """Backward, gradient averaging over DDP ranks, clip, optimizer and LR-schedule step (fp16 scaler when
        active)."""
        assert self.optimizer is not None, "setup_training() was not called"
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
            average_gradients(self.parameters())
            torch.nn.utils.clip_grad_norm_(self.parameters(), self.hparams["grad_clip"])
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            average_gradients(self.parameters())
            torch.nn.utils.clip_grad_norm_(self.parameters(), self.hparams["grad_clip"])
            self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()

    def current_lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"]) if self.optimizer is not None else 0.0


def update_supervised(method: SupervisedMethod, batch: Batch) -> dict[str, float]:
    """One plain supervised step; returns ``{"loss", "lr"}``."""
    image, label = batch["image"], batch["label"]
    with method.autocast(image.device):
        out = method.network(image)
    loss = method.supervised_loss(out, label)
    method.step(loss)
    return {"loss": float(loss.detach()), "lr": method.current_lr()}
