"""synthseg (Billot et al., "SynthSeg: segmentation of brain MRI scans of any contrast and resolution without
retraining", Medical Image Analysis 2023; abdominal use: ABDSynth, arXiv 2507.17971): images drawn from label maps
with random Gaussian-mixture intensities and intensity corruptions.

Per sample and tissue class: mean ~ U(0, 255), std ~ U(0, 35); then Gaussian blur (resolution, sigma ~ U(0, 1.2)
voxels per axis), a smooth multiplicative bias field (exp of an upsampled 4^3 Gaussian grid, amplitude ~ U(0, 0.5)),
Gaussian noise (std ~ U(0, 10)), rescaling to [0, 1] and a gamma exp(N(0, 0.4)) (SynthSeg's ranges). The spatial
deformation of SynthSeg is left to the engine's spatial augmentation. Implemented in torch rather than with the
``cornucopia`` package because cornucopia draws from Python's global ``random`` module (no generator argument), so
draws could not be seeded per step; these five ops are a few lines each.

Normalization (ours, issue #17): SynthSeg rescales each whole synthetic volume; crosspan draws patches, so by
default (``volume_norm=1``) the [0, 1] range and the body z-score of a draw come from the same mixture painted on a
reference abdomen (:mod:`crosspan.methods.labelmap.normalize`), as the preprocessing normalizes a whole test
volume, instead of from the patch itself (``volume_norm=0``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from crosspan.core.blur import gaussian_blur
from crosspan.methods.base import register_method
from crosspan.methods.labelmap.base import LabelMapMethod
from crosspan.methods.labelmap.draws import body_stats, zscore_body
from crosspan.methods.labelmap.normalize import apply_stats, reference_map
from crosspan.synth.tissues import N_TISSUES
from crosspan.synth.torch_render import bias_field


def _u(gen: torch.Generator, shape: tuple[int, ...], lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=gen, device=gen.device)


def _paint(tissue: torch.Tensor, mu: torch.Tensor, sd: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Per voxel N(mu_c, sd_c) of its class c (``mu``, ``sd``: (B, classes))."""
    b = tissue.shape[0]
    idx = tissue.long().clamp(0, mu.shape[1] - 1).reshape(b, -1)
    m, s = torch.gather(mu, 1, idx), torch.gather(sd, 1, idx)
    return (m + s * torch.randn(m.shape, generator=gen, device=gen.device)).reshape(tissue.shape)


def gmm_draw(tissue: torch.Tensor, gen: torch.Generator, n_classes: int = N_TISSUES, mean: float = 255.0,
             std: float = 35.0, blur: float = 1.2, bias: float = 0.5, noise: float = 10.0, gamma: float = 0.4,
             reference: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Random Gaussian-mixture images (B, 1, Z, Y, X) from integer label maps, SynthSeg's generative model. With a
    ``reference`` tissue map (1, 1, z, y, x), the same draw is also painted on it (mixture and noise; blur and bias
    are local) and the [0, 1] rescaling of both uses the reference's range: what a whole volume would get, wherever
    the patch lies. Returns (images, reference images or ``None``)."""
    b = tissue.shape[0]
    mu, sd = _u(gen, (b, n_classes), 0, mean), _u(gen, (b, n_classes), 0, std)
    img = _paint(tissue, mu, sd, gen)
    img = gaussian_blur(img, _u(gen, (b, 3), 0, blur), truncate=2.5, min_sigma=1e-3)
    img = img * bias_field(tuple(img.shape), _u(gen, (b,), 0, bias), gen)
    level = _u(gen, (b, 1, 1, 1, 1), 0, noise)
    img = img + level * torch.randn(img.shape, generator=gen, device=gen.device)
    ref = None
    if reference is not None:
        ref = _paint(reference.to(tissue.device).expand(b, -1, -1, -1, -1), mu, sd, gen)
        ref = ref + level * torch.randn(ref.shape, generator=gen, device=gen.device)
    span = (ref if ref is not None else img).flatten(1)
    lo, hi = span.min(1).values.reshape(-1, 1, 1, 1, 1), span.max(1).values.reshape(-1, 1, 1, 1, 1)
    g = torch.exp(gamma * torch.randn((b, 1, 1, 1, 1), generator=gen, device=gen.device))

    def rescale(x: torch.Tensor) -> torch.Tensor:
        return ((x - lo) / (hi - lo).clamp_min(1e-6)).clamp(0, 1) ** g

    return rescale(img), (rescale(ref) if ref is not None else None)


def gmm_images(tissue: torch.Tensor, gen: torch.Generator, **kwargs: Any) -> torch.Tensor:
    """:func:`gmm_draw`'s images alone."""
    return gmm_draw(tissue, gen, **kwargs)[0]


def gmm_volume_draw(tissue: torch.Tensor, gen: torch.Generator,
                    **kwargs: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """:func:`gmm_draw` with the reference abdomen of :mod:`crosspan.methods.labelmap.normalize`: the [0, 1]
    images and the body statistics (for ``normalize.apply_stats``) the same draw has on that whole volume, so a
    patch's normalization does not depend on where it lies or how much body it holds."""
    ref_map = torch.from_numpy(reference_map(crop=True))[None, None]
    img, ref = gmm_draw(tissue, gen, reference=ref_map, **kwargs)
    assert ref is not None
    return img, body_stats(ref, ref_map.to(ref.device).expand_as(ref) > 0)


@register_method
class SynthSeg(LabelMapMethod):
    name = "synthseg"
    default_hparams: ClassVar[dict[str, Any]] = {
        **LabelMapMethod.default_hparams, "mean_max": 255.0, "std_max": 35.0, "blur_max": 1.2, "bias_max": 0.5,
        "noise_max": 10.0, "gamma_std": 0.4,
        # 1: rescale and z-score with the draw's statistics on a whole reference abdomen; chosen over 0 (the patch's
        # own statistics) on the validation stress cohort, +0.10-0.17 per sequence (benchmarks/results/stress.md)
        "volume_norm": 1,
    }
    legacy_hparams: ClassVar[dict[str, Any]] = {"volume_norm": 0}  # runs before the key normalized per patch

    def _mixture(self) -> dict[str, float]:
        hp = self.hparams
        return {"mean": hp["mean_max"], "std": hp["std_max"], "blur": hp["blur_max"], "bias": hp["bias_max"],
                "noise": hp["noise_max"], "gamma": hp["gamma_std"]}

    def synthesize(self, tissue: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return gmm_images(tissue, gen, **self._mixture())

    def synthesize_normalized(self, tissue: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """z-scored inside the patch's body (``volume_norm=0``), or (``volume_norm=1``, default) with the
        statistics the same draw has on the reference abdomen of :mod:`crosspan.methods.labelmap.normalize`, so a
        patch's normalization does not depend on where it lies or how much body it holds."""
        if not self.hparams["volume_norm"]:
            return zscore_body(self.synthesize(tissue, gen), tissue > 0)
        return apply_stats(*gmm_volume_draw(tissue, gen, **self._mixture()))
