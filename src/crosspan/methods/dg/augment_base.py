"""The update loop of the intensity-augmentation methods (their transforms are in :mod:`crosspan.transforms`).

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
from crosspan.transforms.batch import EPS, like_input


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
