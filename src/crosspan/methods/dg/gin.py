"""GIN, global intensity non-linear augmentation (Ouyang et al., "Causality-inspired single-source domain
generalization for medical image segmentation", IEEE TMI 2022), in 3D.

Each call builds a fresh random shallow network (``n_layers`` conv layers, LeakyReLU 0.2, kernel size 1 or 3
drawn per layer, ``interm_channels`` intermediate channels, N(0, 1) weights and biases, independent per sample via
grouped convolutions), blends its output with the input by alpha ~ U(0, 1) and rescales each sample to the input's
Frobenius norm, as the authors' code does. Differences: 3D kernels; the output is applied to every sample (the
paper's default) unless ``p`` < 1.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from crosspan.methods.base import register_method
from crosspan.methods.dg.augment_base import AugmentMethod
from crosspan.transforms.batch import coin, where
from crosspan.transforms.random_intensity import random_gin


class GINBase(AugmentMethod):
    default_hparams: ClassVar[dict[str, Any]] = {**AugmentMethod.default_hparams, "p": 1.0, "n_layers": 4,
                                                 "interm_channels": 2, "kernel_sizes": "1,3"}

    def gin(self, x: torch.Tensor) -> torch.Tensor:
        hp = self.hparams
        ks = tuple(int(s) for s in str(hp["kernel_sizes"]).split(","))
        return random_gin(x, int(hp["n_layers"]), int(hp["interm_channels"]), ks)[0]


@register_method
class GIN(GINBase):
    name = "gin"
    table_order: ClassVar[int] = 3  # place among the DG methods in result tables
    forward_passes = 1

    def augment(self, image: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        m = coin(image.shape[0], self.hparams["p"], image)
        return where(m, self.gin(image), image) if m.any() else image
