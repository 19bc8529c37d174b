"""The update loop of the intensity-augmentation methods (their transforms are in :mod:`crosspan.transforms`).

Everything works on a whole batch (B, C, Z, Y, X) on its device; per-sample randomness is drawn as tensors, and a
per-sample Bernoulli mask decides which samples are augmented. Augmentation runs inside ``update`` only, never in
``predict``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from crosspan.methods.base import Batch
from crosspan.methods.common import SupervisedMethod
from crosspan.transforms.batch import like_input


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
