"""Shared pieces of the intensity-augmentation methods: the update loop and batched 3D intensity helpers.

Everything works on a whole batch (B, C, Z, Y, X) on its device; per-sample randomness is drawn as tensors, and a
per-sample Bernoulli mask decides which samples are augmented. Augmentation runs inside ``update`` only, never in
``predict``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from crosspan.methods.base import Batch
from crosspan.methods.common import SupervisedMethod

EPS = 1e-6


def bshape(t: torch.Tensor, ndim: int = 5) -> torch.Tensor:
    """(B,) -> (B, 1, 1, 1, 1) for broadcasting over a batch of volumes."""
    return t.reshape(-1, *([1] * (ndim - 1)))


def uniform(b: int, lo: float, hi: float, ref: torch.Tensor) -> torch.Tensor:
    """(B,) samples from U(lo, hi) on ``ref``'s device and dtype."""
    return lo + (hi - lo) * torch.rand(b, device=ref.device, dtype=ref.dtype)


def coin(b: int, p: float, ref: torch.Tensor) -> torch.Tensor:
    """(B,) booleans, each True with probability ``p``."""
    return torch.rand(b, device=ref.device) < p


def where(mask: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """Per-sample choice between two batches."""
    return torch.where(bshape(mask, old.ndim), new, old)


def spatial_dims(x: torch.Tensor) -> tuple[int, ...]:
    return tuple(range(2, x.ndim))


def zscore(x: torch.Tensor) -> torch.Tensor:
    """Per-sample, per-channel standardization (the input convention of the engine)."""
    d = spatial_dims(x)
    return (x - x.mean(d, keepdim=True)) / (x.std(d, keepdim=True) + EPS)


def minmax(x: torch.Tensor) -> torch.Tensor:
    """Per-sample, per-channel rescaling to [0, 1]."""
    flat = x.flatten(2)
    lo = flat.min(-1).values[..., None, None, None]
    hi = flat.max(-1).values[..., None, None, None]
    return (x - lo) / (hi - lo + EPS)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable 3D Gaussian blur with one sigma (voxels) per sample, as grouped 1D convolutions."""
    b, c = x.shape[:2]
    radius = max(1, int(math.ceil(3 * float(sigma.max()))))
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-0.5 * (t[None] / sigma[:, None].clamp_min(EPS)) ** 2)
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (B*C, K)
    y = x.reshape(1, b * c, *x.shape[2:])
    for axis in range(3):
        shape = [1, 1, 1]
        shape[axis] = k.shape[1]
        pad = [0] * 6
        pad[2 * (2 - axis)] = pad[2 * (2 - axis) + 1] = radius
        y = F.pad(y, pad, mode="replicate").contiguous(memory_format=torch.channels_last_3d)
        y = F.conv3d(y, k.reshape(b * c, 1, *shape), groups=b * c)
    return y.contiguous().reshape(x.shape)


def interp1d(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Batched piecewise-linear interpolation: ``x`` (B, ...) through knots ``xp``/``fp`` (B, K), xp increasing.

    Values outside [xp[0], xp[-1]] are clamped to the end values.
    """
    b = x.shape[0]
    flat = x.reshape(b, -1).contiguous()
    idx = torch.searchsorted(xp.contiguous(), flat).clamp(1, xp.shape[1] - 1)
    x0, x1 = xp.gather(1, idx - 1), xp.gather(1, idx)
    y0, y1 = fp.gather(1, idx - 1), fp.gather(1, idx)
    w = ((flat - x0) / (x1 - x0).clamp_min(EPS)).clamp(0, 1)
    return (y0 + w * (y1 - y0)).reshape(x.shape)


def bezier_curve(ctrl_x: torch.Tensor, ctrl_y: torch.Tensor, n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Points of cubic Bezier curves (B, n) from 4 control points per sample (B, 4); x must be monotonic in t."""
    t = torch.linspace(0, 1, n, device=ctrl_x.device, dtype=ctrl_x.dtype)[None]
    basis = [(1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t**2 * (1 - t), t**3]
    xs = sum(bb * ctrl_x[:, i : i + 1] for i, bb in enumerate(basis))
    ys = sum(bb * ctrl_y[:, i : i + 1] for i, bb in enumerate(basis))
    return xs, ys


def random_bezier_map(x01: torch.Tensor, inverted: torch.Tensor | None = None) -> torch.Tensor:
    """Monotonic cubic Bezier intensity map of [0, 1] intensities (Zhou et al. 2022; Su et al. 2023).

    Ends at (0, 0) and (1, 1) (or (0, 1) and (1, 0) where ``inverted``), two random inner control points.
    """
    b = x01.shape[0]
    inner = torch.rand(b, 2, 2, device=x01.device, dtype=x01.dtype).sort(dim=1).values  # x and y sorted
    zeros, ones = torch.zeros(b, 1, device=x01.device, dtype=x01.dtype), torch.ones(b, 1, device=x01.device,
                                                                                       dtype=x01.dtype)
    cx = torch.cat([zeros, inner[:, :, 0], ones], 1)
    cy = torch.cat([zeros, inner[:, :, 1], ones], 1)
    xs, ys = bezier_curve(cx, cy)
    if inverted is not None:
        ys = torch.where(inverted[:, None], 1 - ys, ys)
    return interp1d(x01, xs, ys)


def like_input(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``y`` in ``x``'s memory format (channels-last 3D or contiguous), so the network sees what ERM sees."""
    if x.ndim == 5 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last_3d):
        return y.contiguous(memory_format=torch.channels_last_3d)
    return y.contiguous()


class AugmentMethod(SupervisedMethod):
    """A supervised method whose only change is a batched intensity augmentation of the image in ``update``.

    Subclasses implement :meth:`augment`; it runs without gradients, on the training device, and never touches
    the label.
    """

    default_hparams: ClassVar[dict[str, Any]] = {**SupervisedMethod.default_hparams}
    forward_passes: ClassVar[int] = 1

    def augment(self, image: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def update(self, labeled: Batch, unlabeled: Batch | None = None) -> dict[str, float]:
        image, label = labeled["image"], labeled["label"]
        with torch.no_grad():
            image = like_input(self.augment(image.float(), label), image)
        with self.autocast(image.device):
            out = self.network(image)
        loss = self.supervised_loss(out, label)
        self.step(loss)
        return {"loss": float(loss.detach()), "lr": self.current_lr()}
