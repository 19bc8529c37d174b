"""BigAug (Zhang et al., "Generalizing deep learning for medical image segmentation to unseen domains via deep
stacked transformation", IEEE TMI 2020), intensity part, in 3D on the training device.

Stacked, each with probability 0.5 per sample: Gaussian blur, sharpening, Gaussian noise, brightness shift,
gamma contrast (0.5-4.5 on min-max rescaled intensities, mapped back to the original range) and intensity
scale/shift. Differences from the paper: 3D volumes, batched torch operations; the spatial transforms (rotation,
scaling, elastic) are left to the engine's spatial augmentation (``crosspan.transforms.random_spatial``) so that ERM and
BigAug share the same geometry; intensities are z-scored, so shifts and noise are in units of the image std.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from crosspan.methods.base import register_method
from crosspan.methods.dg.augment_base import AugmentMethod
from crosspan.transforms.batch import bshape, coin, uniform, where
from crosspan.transforms.intensity import add_noise, gain_shift
from crosspan.transforms.random_intensity import random_blur, random_range_gamma, random_sharpen


@register_method
class BigAug(AugmentMethod):
    name = "bigaug"
    table_order: ClassVar[int] = 1  # place among the DG methods in result tables
    default_hparams: ClassVar[dict[str, Any]] = {
        **AugmentMethod.default_hparams,
        "p": 0.5, "blur_sigma_min": 0.25, "blur_sigma_max": 1.5, "sharpen_alpha_min": 10.0,
        "sharpen_alpha_max": 30.0, "noise_std": 0.1, "brightness": 0.1, "gamma_min": 0.5, "gamma_max": 4.5,
        "scale_min": 0.9, "scale_max": 1.1, "shift": 0.1,
    }
    forward_passes = 1

    def augment(self, image: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        hp, x, b = self.hparams, image, image.shape[0]
        p = hp["p"]
        m = coin(b, p, x)  # blur
        if m.any():
            x = where(m, random_blur(x, hp["blur_sigma_min"], hp["blur_sigma_max"])[0], x)
        m = coin(b, p, x)  # sharpen
        if m.any():
            x = where(m, random_sharpen(x, hp["sharpen_alpha_min"], hp["sharpen_alpha_max"])[0], x)
        m = coin(b, p, x)  # noise (the field is drawn before its std)
        if m.any():
            noise = torch.randn_like(x)
            x = where(m, add_noise(x, uniform(b, 0.0, hp["noise_std"], x), noise), x)
        m = coin(b, p, x)  # brightness
        x = where(m, x + bshape(uniform(b, -hp["brightness"], hp["brightness"], x)), x)
        m = coin(b, p, x)  # gamma contrast on min-max rescaled intensities
        if m.any():
            x = where(m, random_range_gamma(x, hp["gamma_min"], hp["gamma_max"])[0], x)
        m = coin(b, p, x)  # intensity scale and shift
        scale = uniform(b, hp["scale_min"], hp["scale_max"], x)
        return where(m, gain_shift(x, scale, uniform(b, -hp["shift"], hp["shift"], x)), x)
