"""Feature-statistics perturbation through forward hooks on the network's early blocks (MixStyle, DSU).

Early blocks are found per architecture, output taken after normalization and activation (a perturbation before
an instance norm would be undone by it):

- DynUNet (``tiny``, ``nnunet``): ``input_block``, ``downsamples.0``, ...;
- SegResNet: ``down_layers.0``, ...; MONAI ``UNet``: ``model.0``, then ``model.1.submodule.0``, ...;
- otherwise: the first modules that directly hold a normalization layer (conv-norm-act units), in order.

A hook perturbs only when its module is in training mode, gradients are enabled, and a coin with probability
``p`` comes up; in eval mode (and under ``torch.no_grad``, as in ``predict``) outputs are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import nn

from crosspan.methods.base import Batch
from crosspan.methods.common import SupervisedMethod, update_supervised

NORMS = (nn.InstanceNorm3d, nn.BatchNorm3d, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d, nn.BatchNorm2d)


def find_early_blocks(net: nn.Module, n: int) -> list[tuple[str, nn.Module]]:
    """The first ``n`` encoder blocks of ``net`` as (name, module), see the module docstring."""
    blocks: list[tuple[str, nn.Module]] = []
    inputs, downs, layers = (getattr(net, a, None) for a in ("input_block", "downsamples", "down_layers"))
    seq: nn.Module | None = getattr(net, "model", None)
    if isinstance(inputs, nn.Module) and isinstance(downs, nn.ModuleList):  # DynUNet
        blocks = [("input_block", inputs)] + [(f"downsamples.{i}", m) for i, m in enumerate(downs)]
    elif isinstance(layers, nn.ModuleList):  # SegResNet
        blocks = [(f"down_layers.{i}", m) for i, m in enumerate(layers)]
    elif isinstance(seq, nn.Sequential) and len(seq) == 3:  # MONAI UNet
        prefix = "model"
        while isinstance(seq, nn.Sequential) and len(seq) == 3 and len(blocks) < n:
            blocks.append((f"{prefix}.0", seq[0]))
            seq, prefix = getattr(seq[1], "submodule", None), f"{prefix}.1.submodule"
    if not blocks:
        for name, mod in net.named_modules():
            if any(isinstance(c, NORMS) for c in mod.children()):
                blocks.append((name, mod))
    return blocks[:n]


def instance_stats(x: torch.Tensor, eps: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample, per-channel mean and std over the spatial axes (keepdim)."""
    dims = tuple(range(2, x.ndim))
    return x.mean(dims, keepdim=True), (x.var(dims, keepdim=True) + eps).sqrt()


class FeatureStatsMethod(SupervisedMethod):
    """ERM plus a statistics perturbation ``perturb(x, domain)`` after the first ``n_blocks`` encoder blocks."""

    default_hparams: ClassVar[dict[str, Any]] = {**SupervisedMethod.default_hparams, "p": 0.5, "n_blocks": 2}
    forward_passes = 1

    def __init__(self, network: nn.Module, domains: list[str], hparams: dict[str, Any] | None = None) -> None:
        super().__init__(network, domains, hparams)
        self.hooked = [name for name, _ in find_early_blocks(network, int(self.hparams["n_blocks"]))]
        self._handles = [mod.register_forward_hook(self._hook()) for _, mod in
                         find_early_blocks(network, int(self.hparams["n_blocks"]))]
        self._domain: torch.Tensor | None = None

    def perturb(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _hook(self) -> Callable:
        def hook(module: nn.Module, inputs: Any, output: Any) -> Any:
            if not (module.training and torch.is_grad_enabled() and isinstance(output, torch.Tensor)):
                return None
            if output.shape[0] < 2 or float(torch.rand(())) >= self.hparams["p"]:
                return None
            return self.perturb(output)

        return hook

    def remove_hooks(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def update(self, labeled: Batch, unlabeled: Batch | None = None) -> dict[str, float]:
        self._domain = labeled.get("domain")
        try:
            return update_supervised(self, labeled)
        finally:
            self._domain = None
