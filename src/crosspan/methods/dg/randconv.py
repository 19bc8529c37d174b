"""RandConv (Xu et al., "Robust and generalizable visual representation learning via random convolutions",
ICLR 2021), in 3D.

With probability ``p`` per sample the image passes through a conv3d with fresh Kaiming-normal weights
(N(0, 1/(C k^3))) and a kernel size drawn from {1, 3, 5, 7}, is mixed with the input by alpha ~ U(0, 1)
("RandConv_mix"), and is re-standardized. Differences: 3D kernels; one kernel size per call but weights and alpha
per sample (one grouped convolution); the optional multi-view KL consistency of the paper is not used. On a
single-channel MRI a 1x1x1 kernel is a scalar, so after re-standardization it gives either the image or its
inversion (a negative weight).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from crosspan.methods.base import register_method
from crosspan.methods.dg.augment_base import AugmentMethod
from crosspan.transforms.batch import bshape, coin, where
from crosspan.transforms.intensity import zscore
from crosspan.transforms.random_intensity import random_conv, random_kernel_size


@register_method
class RandConv(AugmentMethod):
    name = "randconv"
    table_order: ClassVar[int] = 2  # place among the DG methods in result tables
    default_hparams: ClassVar[dict[str, Any]] = {**AugmentMethod.default_hparams, "p": 0.5, "kernel_sizes": "1,3,5,7",
                                                 "mix": 1}
    forward_passes = 1

    def augment(self, image: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        b = image.shape[0]
        m = coin(b, self.hparams["p"], image)
        if not m.any():
            return image
        sizes = [int(s) for s in str(self.hparams["kernel_sizes"]).split(",")]
        y, _ = random_conv(image, random_kernel_size(tuple(sizes)))
        if int(self.hparams["mix"]):  # an int, not a bool: "--hp mix=0" must parse
            alpha = bshape(torch.rand(b, device=image.device, dtype=image.dtype))
            y = alpha * image + (1 - alpha) * y
        return where(m, zscore(y), image)
