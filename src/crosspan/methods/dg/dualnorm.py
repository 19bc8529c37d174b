"""Dual-Normalization (Zhou et al., "Generalizable cross-modality medical image segmentation via style
augmentation and dual normalization", CVPR 2022), in 3D.

Training: each image gives a source-similar view (monotonic cubic Bezier intensity map) and a source-dissimilar
view (a decreasing Bezier map, i.e. an inversion), both re-standardized; with probability ``p_identity`` the
source-similar view is the source image itself (the identity curve), so branch 0 also learns the source's own
statistics. Every normalization layer of the network is replaced (network surgery) by a :class:`DualNorm` with two
sets of normalization parameters: branch 0 sees the similar views, branch 1 the dissimilar ones (two forward
passes). Each branch also tracks the running average of the per-instance channel means and stds at its layer.

Test: one branch per volume. The sliding window enters :meth:`DualNormalization.volume` with the whole volume; at
its first tile the branch is chosen from every tile of the window's grid (half-overlapping, tile-sized, so the
evidence is at the scale of the training patches), and every tile of the volume then runs through it. Two rules
(``select``):

- ``confidence`` (default): each branch predicts the grid's tiles; the branch whose predicted foreground is the
  more certain (lower mean softmax entropy over the voxels it labels foreground; a branch that labels none is
  never chosen over one that does) wins. Not the paper's rule; chosen on validation data only (the default
  cohort's validation split and a stress cohort of seed 300, neither scored in any table; two seeds at 2000
  steps): the paper's rule sent both in-domain validation volumes of one seed through the inverted branch (Dice
  0.00 where the other branch gives 0.93), this rule chose the better branch on every in-domain volume and on
  every T2 volume where either branch scores above 0.1 (docs/dg.md "Measuring").
- ``style`` (the paper's "style-based path selection"): the branch whose running instance statistics are nearest
  to the volume's (summed L2 distance of channel means and stds over the first ``select_layers`` normalization
  layers, 0 = all). ``select_layers=1`` is blind: the first norm layer's input does not depend on the branch, and
  for a z-scored image its channel stds do not see an intensity inversion.

A batch given to ``predict`` outside a volume is chosen per sample by the same rule. ``norm=batch`` (the paper's
domain-specific BN) or ``norm=instance`` (instance norm with branch-specific affine parameters, the nnU-Net
convention). Differences: 3D; the Bezier maps are drawn per sample on the device; the paper's 2D slices are
whole images, so its per-sample choice is the per-volume choice here; the confidence rule.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from monai.data.utils import dense_patch_slices
from torch import nn

from crosspan.core.errors import CrosspanError
from crosspan.methods.base import Batch, register_method
from crosspan.methods.common import split_outputs
from crosspan.methods.dg.augment_base import AugmentMethod
from crosspan.methods.hparams import NON_NEGATIVE, Bound
from crosspan.transforms.batch import coin, where
from crosspan.transforms.intensity import minmax, zscore
from crosspan.transforms.random_intensity import random_bezier_map

SELECT_RULES = ("confidence", "style")  # test-time branch rules (module docstring)


class DualNorm(nn.Module):
    """Two normalization branches over ``num_features`` channels, chosen by ``self.branch``."""

    running_mean: torch.Tensor  # buffers (2, num_features): one row a branch
    running_var: torch.Tensor
    style_mean: torch.Tensor
    style_std: torch.Tensor

    def __init__(self, num_features: int, mode: str = "batch", eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.mode, self.eps, self.momentum, self.branch = mode, eps, momentum, 0
        self.weight = nn.Parameter(torch.ones(2, num_features))
        self.bias = nn.Parameter(torch.zeros(2, num_features))
        self.register_buffer("running_mean", torch.zeros(2, num_features))  # BN statistics
        self.register_buffer("running_var", torch.ones(2, num_features))
        self.register_buffer("style_mean", torch.zeros(2, num_features))  # mean of instance means / stds
        self.register_buffer("style_std", torch.ones(2, num_features))
        self.captured: tuple[torch.Tensor, torch.Tensor] | None = None
        self.capture = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.branch
        dims = tuple(range(2, x.ndim))
        if self.capture or self.training:
            mu = x.detach().float().mean(dims)
            sd = (x.detach().float().var(dims) + self.eps).sqrt()
            if self.capture:
                self.captured = (mu, sd)
            if self.training and torch.is_grad_enabled():
                with torch.no_grad():
                    self.style_mean[b].lerp_(mu.mean(0), self.momentum)
                    self.style_std[b].lerp_(sd.mean(0), self.momentum)
        if self.mode == "instance":
            return F.instance_norm(x, None, None, weight=self.weight[b], bias=self.bias[b], eps=self.eps)
        rm, rv = self.running_mean[b], self.running_var[b]
        out = F.batch_norm(x, rm, rv, self.weight[b], self.bias[b], self.training, self.momentum, self.eps)
        return out


def convert_norms(module: nn.Module, mode: str) -> list[DualNorm]:
    """Replace every InstanceNorm3d/BatchNorm3d in ``module`` by a :class:`DualNorm` (in place), in order."""
    found: list[DualNorm] = []
    for name, child in module.named_children():
        if isinstance(child, (nn.InstanceNorm3d, nn.BatchNorm3d)):
            dn = DualNorm(child.num_features, mode, child.eps)
            if getattr(child, "weight", None) is not None:
                with torch.no_grad():
                    dn.weight.copy_(child.weight.detach().expand(2, -1))
                    dn.bias.copy_(child.bias.detach().expand(2, -1))
            setattr(module, name, dn)
            found.append(dn)
        else:
            found.extend(convert_norms(child, mode))
    return found


class _Stop(Exception):
    """Raised by a forward hook to end a forward pass once the statistics are captured."""


def _stop_hook(*_: Any) -> None:
    raise _Stop


@register_method
class DualNormalization(AugmentMethod):
    name = "dualnorm"
    table_order: ClassVar[int] = 11  # place among the DG methods in result tables
    default_hparams: ClassVar[dict[str, Any]] = {**AugmentMethod.default_hparams, "norm": "batch",
                                                 "select": "confidence", "select_layers": 0, "p_identity": 0.5}
    hparam_bounds: ClassVar[dict[str, Bound]] = {"select_layers": NON_NEGATIVE}
    forward_passes = 2

    def __init__(self, network: nn.Module, domains: list[str], hparams: dict[str, Any] | None = None) -> None:
        super().__init__(network, domains, hparams)
        if self.hparams["norm"] not in ("batch", "instance"):
            raise CrosspanError(None, f"unknown dual-norm type '{self.hparams['norm']}'", "use norm=batch|instance")
        if self.hparams["select"] not in SELECT_RULES:
            raise CrosspanError(None, f"unknown dual-norm branch rule select={self.hparams['select']!r}",
                                f"use select={'|'.join(SELECT_RULES)}")
        self.dual_norms = convert_norms(self.network, self.hparams["norm"])
        self.volume_branch: int | None = None  # chosen at the first tile of a volume (see ``volume``)
        self._volume: torch.Tensor | None = None
        if not self.dual_norms:
            raise CrosspanError(None, "dualnorm needs a network with InstanceNorm3d/BatchNorm3d layers",
                                "use --network tiny or nnunet")

    def set_branch(self, b: int) -> None:
        for dn in self.dual_norms:
            dn.branch = b

    def augment(self, image: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """(2B, ...): source-similar (monotonic Bezier) then source-dissimilar (inverted Bezier) views."""
        x01 = minmax(image)
        b = image.shape[0]
        sim = where(coin(b, self.hparams["p_identity"], image), x01, random_bezier_map(x01)[0])
        dis, _ = random_bezier_map(x01, torch.ones(b, dtype=torch.bool, device=image.device))
        return zscore(torch.cat([sim, dis], 0))

    def update(self, labeled: Batch, unlabeled: Batch | None = None) -> dict[str, float]:
        image, label = labeled["image"], labeled["label"]
        b = image.shape[0]
        with torch.no_grad():
            views = self.augment(image.float(), label)
        losses = []
        for branch in (0, 1):
            self.set_branch(branch)
            with self.autocast(image.device):
                out = self.network(views[branch * b:(branch + 1) * b])
            losses.append(self.supervised_loss(out, label))
        self.set_branch(0)
        loss = losses[0] + losses[1]
        self.step(loss)
        return {"loss": float(loss.detach()), "loss_similar": float(losses[0].detach()),
                "loss_dissimilar": float(losses[1].detach()), "lr": self.current_lr()}

    @torch.no_grad()
    def branch_distances(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 2) summed distance of the instance statistics to each branch over the first ``select_layers``."""
        n = int(self.hparams["select_layers"])
        layers = self.dual_norms[:n] if n > 0 else self.dual_norms
        dist = torch.zeros(image.shape[0], 2, device=image.device)
        for branch in (0, 1):
            self.set_branch(branch)
            for dn in layers:
                dn.capture = True
            last = layers[-1]
            handle = last.register_forward_hook(_stop_hook)
            try:
                self.network(image)
            except _Stop:
                pass
            finally:
                handle.remove()
                for dn in layers:
                    dn.capture = False
            for dn in layers:
                assert dn.captured is not None  # set by the forward pass above
                mu, sd = dn.captured
                dist[:, branch] += (mu - dn.style_mean[branch]).norm(dim=1) + (sd - dn.style_std[branch]).norm(dim=1)
                dn.captured = None
        self.set_branch(0)
        return dist

    @torch.no_grad()
    def branch_uncertainty(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 2) summed softmax entropy over the voxels each branch labels foreground, and (B, 2) their count."""
        total = torch.zeros(image.shape[0], 2, device=image.device)
        count = torch.zeros(image.shape[0], 2, device=image.device)
        for branch in (0, 1):
            self.set_branch(branch)
            p = torch.softmax(split_outputs(self.network(image), image.ndim)[0].float(), 1)
            entropy = -(p * p.clamp_min(1e-8).log()).sum(1)
            fg = p.argmax(1) > 0
            total[:, branch] = (entropy * fg).flatten(1).sum(1)
            count[:, branch] = fg.flatten(1).sum(1)
        self.set_branch(0)
        return total, count

    def branch_scores(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample (B, 2) terms whose sums over tiles, ``first / second``, rank the branches (lower wins):
        the distances and ones for ``style``, the foreground entropy and its voxel count for ``confidence``."""
        if self.hparams["select"] == "style":
            dist = self.branch_distances(image)
            return dist, torch.ones_like(dist)
        return self.branch_uncertainty(image)

    @staticmethod
    def choose(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """argmin over the last axis of ``first / second``; a zero ``second`` (no foreground) ranks last."""
        score = torch.where(second > 0, first / second.clamp_min(1e-8), torch.full_like(first, float("inf")))
        return score.argmin(-1)

    @torch.no_grad()
    def select_branch(self, image: torch.Tensor) -> torch.Tensor:
        return self.choose(*self.branch_scores(image))

    @contextlib.contextmanager
    def volume(self, image: torch.Tensor) -> Iterator[None]:
        """Every ``predict`` inside the block runs through one branch, chosen from all tiles of ``image``."""
        self._volume, self.volume_branch = image[:1], None
        try:
            yield
        finally:
            self._volume, self.volume_branch = None, None

    @torch.no_grad()
    def volume_choice(self, volume: torch.Tensor, tile: Sequence[int], batch: int = 2) -> int:
        """The branch of a (1, C, Z, Y, X) volume, from the ``select`` rule's terms summed over the tiles of a
        half-overlapping grid."""
        pad = [max(int(t) - int(n), 0) for n, t in zip(volume.shape[2:], tile, strict=True)]
        if any(pad):  # zeros, as the sliding window pads
            volume = F.pad(volume, (0, pad[2], 0, pad[1], 0, pad[0]))
        tile = [int(t) for t in tile]
        slices = dense_patch_slices(volume.shape[2:], tile, [max(t // 2, 1) for t in tile])
        first = torch.zeros(2, device=volume.device)
        second = torch.zeros(2, device=volume.device)
        for i in range(0, len(slices), max(1, batch)):
            tiles = torch.cat([volume[(slice(None), slice(None), *sl)] for sl in slices[i:i + max(1, batch)]])
            a, b = self.branch_scores(tiles)
            first, second = first + a.sum(0), second + b.sum(0)
        return int(self.choose(first, second))

    @torch.no_grad()
    def predict(self, image: torch.Tensor) -> torch.Tensor:
        if self._volume is not None and self.volume_branch is None:
            self.volume_branch = self.volume_choice(self._volume, image.shape[2:], image.shape[0])
        if self.volume_branch is not None:
            choice = torch.full((image.shape[0],), self.volume_branch, dtype=torch.long, device=image.device)
        else:
            choice = self.select_branch(image)
        probs: torch.Tensor | None = None
        for branch in (0, 1):
            idx = (choice == branch).nonzero().flatten()
            if len(idx) == 0:
                continue
            self.set_branch(branch)
            out = split_outputs(self.network(image[idx]), image.ndim)[0]
            p = torch.softmax(out.float(), 1)
            if probs is None:
                probs = torch.zeros(image.shape[0], *p.shape[1:], device=p.device)
            probs[idx] = p
        self.set_branch(0)
        assert probs is not None
        return probs
