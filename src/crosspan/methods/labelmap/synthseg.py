"""synthseg (Billot et al., "SynthSeg: segmentation of brain MRI scans of any contrast and resolution without
retraining", Medical Image Analysis 2023; abdominal use: ABDSynth, arXiv 2507.17971): images drawn from label maps
with random Gaussian-mixture intensities and intensity corruptions.

Per sample and tissue class: mean ~ U(0, 255), std ~ U(0, 35); then Gaussian blur (resolution, sigma ~ U(0, 1.2)
voxels per axis), a smooth multiplicative bias field (exp of an upsampled 4^3 Gaussian grid, amplitude ~ U(0, 0.5)),
Gaussian noise (std ~ U(0, 10)), rescaling to [0, 1] and a gamma exp(N(0, 0.4)) (SynthSeg's ranges). The spatial
deformation of SynthSeg is left to the engine's spatial augmentation. Implemented in torch rather than with the
``cornucopia`` package because cornucopia draws from Python's global ``random`` module (no generator argument), so
draws could not be seeded per step; these five ops are a few lines each.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from crosspan.core.blur import gaussian_blur
from crosspan.methods.base import register_method
from crosspan.methods.labelmap.base import LabelMapMethod
from crosspan.synth.tissues import N_TISSUES
from crosspan.synth.torch_render import bias_field


def _u(gen: torch.Generator, shape: tuple[int, ...], lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=gen, device=gen.device)


def gmm_images(tissue: torch.Tensor, gen: torch.Generator, n_classes: int = N_TISSUES, mean: float = 255.0,
               std: float = 35.0, blur: float = 1.2, bias: float = 0.5, noise: float = 10.0,
               gamma: float = 0.4) -> torch.Tensor:
    """Random Gaussian-mixture images (B, 1, Z, Y, X) from integer label maps, SynthSeg's generative model."""
    b = tissue.shape[0]
    idx = tissue.long().clamp(0, n_classes - 1).reshape(b, -1)
    mu = torch.gather(_u(gen, (b, n_classes), 0, mean), 1, idx)
    sd = torch.gather(_u(gen, (b, n_classes), 0, std), 1, idx)
    img = (mu + sd * torch.randn(mu.shape, generator=gen, device=gen.device)).reshape(tissue.shape)
    img = gaussian_blur(img, _u(gen, (b, 3), 0, blur), truncate=2.5, min_sigma=1e-3)
    img = img * bias_field(tuple(img.shape), _u(gen, (b,), 0, bias), gen)
    img = img + _u(gen, (b, 1, 1, 1, 1), 0, noise) * torch.randn(img.shape, generator=gen, device=gen.device)
    flat = img.flatten(1)
    lo, hi = flat.min(1).values.reshape(-1, 1, 1, 1, 1), flat.max(1).values.reshape(-1, 1, 1, 1, 1)
    img = ((img - lo) / (hi - lo).clamp_min(1e-6)).clamp(0, 1)
    g = torch.exp(gamma * torch.randn((b, 1, 1, 1, 1), generator=gen, device=gen.device))
    return img ** g


@register_method
class SynthSeg(LabelMapMethod):
    name = "synthseg"
    default_hparams: ClassVar[dict[str, Any]] = {
        **LabelMapMethod.default_hparams, "mean_max": 255.0, "std_max": 35.0, "blur_max": 1.2, "bias_max": 0.5,
        "noise_max": 10.0, "gamma_std": 0.4,
    }

    def synthesize(self, tissue: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        hp = self.hparams
        return gmm_images(tissue, gen, mean=hp["mean_max"], std=hp["std_max"], blur=hp["blur_max"],
                          bias=hp["bias_max"], noise=hp["noise_max"], gamma=hp["gamma_std"])
