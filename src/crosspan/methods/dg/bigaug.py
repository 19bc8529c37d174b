"""BigAug (Zhang et al., "Generalizing deep learning for medical image segmentation to unseen domains via deep
stacked transformation", IEEE TMI 2020), intensity part, in 3D on the training device.

Stacked, each with probability 0.5 per sample: Gaussian blur, sharpening, Gaussian noise, brightness shift,
gamma contrast (0.5-4.5 on min-max rescaled intensities, mapped back to the original range) and intensity
scale/shift. Differences from the paper: 3D volumes, batched torch operations; the spatial transforms (rotation,
scaling, elastic) are left to the engine's spatial augmentation (``crosspan.training.augment``) so that ERM and
BigAug share the same geometry; intensities are z-scored, so shifts and noise are in units of the image std.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from crosspan.methods.base import register_method
from crosspan.methods.dg.augment_base import AugmentMethod, bshape, coin, gaussian_blur, uniform, where


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
            x = where(m, gaussian_blur(x, uniform(b, hp["blur_sigma_min"], hp["blur_sigma_max"], x)), x)
        m = coin(b, p, x)  # sharpen: unsharp masking (as MONAI's GaussianSharpen)
        if m.any():
            blurred = gaussian_blur(x, uniform(b, 0.5, 1.0, x))
            blurred2 = gaussian_blur(blurred, torch.full((b,), 0.5, device=x.device, dtype=x.dtype))
            alpha = bshape(uniform(b, hp["sharpen_alpha_min"], hp["sharpen_alpha_max"], x))
            x = where(m, blurred + alpha * (blurred - blurred2), x)
        m = coin(b, p, x)  # noise
        if m.any():
            x = where(m, x + torch.randn_like(x) * bshape(uniform(b, 0.0, hp["noise_std"], x)), x)
        m = coin(b, p, x)  # brightness
        x = where(m, x + bshape(uniform(b, -hp["brightness"], hp["brightness"], x)), x)
        m = coin(b, p, x)  # gamma contrast on min-max rescaled intensities
        if m.any():
            flat = x.flatten(1)
            lo, hi = bshape(flat.min(1).values), bshape(flat.max(1).values)
            gamma = bshape(uniform(b, hp["gamma_min"], hp["gamma_max"], x))
            x = where(m, lo + (hi - lo) * ((x - lo) / (hi - lo + 1e-6)).clamp(0, 1) ** gamma, x)
        m = coin(b, p, x)  # intensity scale and shift
        scale = bshape(uniform(b, hp["scale_min"], hp["scale_max"], x))
        x = where(m, x * scale + bshape(uniform(b, -hp["shift"], hp["shift"], x)), x)
        return x
