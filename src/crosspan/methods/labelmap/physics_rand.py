"""physics-rand (ours, issue #12): train on images drawn from tissue label maps with random but physically possible
MR sequences and scanners, so the network sees every contrast a scanner can produce.

Follows the label-to-image idea of SynthSeg (Billot et al., Medical Image Analysis 2023), with the Gaussian mixture
replaced by MR signal equations (shared PHYSICS.md section 2): per sample a sequence family (spoiled GRE +/- fat-sat
and gadolinium, dual-echo GRE at any TE, HASTE T2 +/- fat-sat, inversion recovery), TR/TE/flip/TI, 1.5 or 3 T,
per-tissue jitter, blur, bias field and Rician noise (:mod:`crosspan.methods.labelmap.draws`). Optional
(issue #17): SynthSeg's resolution randomization and gamma, a normalization jitter and a share of SynthSeg's
Gaussian-mixture draws (:mod:`crosspan.transforms`, :mod:`crosspan.methods.labelmap.acquisition`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from crosspan.core.errors import CrosspanError
from crosspan.methods.base import register_method
from crosspan.methods.hparams import NON_NEGATIVE, POSITIVE, Bound
from crosspan.methods.labelmap.base import LabelMapMethod
from crosspan.methods.labelmap.draws import draw_images, volume_zscore, zscore_body
from crosspan.methods.labelmap.normalize import apply_stats
from crosspan.methods.labelmap.synthseg import gmm_images, gmm_volume_draw
from crosspan.preprocess.normalize import BODY_MASKS
from crosspan.transforms.random_intensity import random_gamma, random_normalization_jitter
from crosspan.transforms.random_spatial import random_resolution

AT_LEAST_ONE = Bound(1.0)


@register_method
class PhysicsRand(LabelMapMethod):
    name = "physics-rand"
    default_hparams: ClassVar[dict[str, Any]] = {
        **LabelMapMethod.default_hparams, "p_t1fs": 0.3, "p_gre": 0.3, "p_haste": 0.25, "p_ir": 0.15,
        "snr_min": 8.0, "snr_max": 40.0, "bias_max": 0.4, "blur_max": 1.2,
        "volume_norm": 1, "haste_tr_min": 800.0, "haste_tr_max": 2000.0,
        # volume_norm's statistics: otsu on the reference abdomen's body crop. With noise-floor plans (the default)
        # this beat the plan's own mask on the validation stress cohort in 3 of 3 seeds (benchmarks/results/stress.md)
        "body_mask": "otsu",
        # issue #17 (acquisition.py): off by default until measured on the stress suite
        "res_z_max": 1.0, "res_xy_max": 1.0, "gamma_std": 0.0, "norm_jitter": 0.0, "p_gmm": 0.0,
        "gmm_volume_norm": 0,  # 1: p_gmm's draws normalized as synthseg's (whole reference volume), 0: per patch
        "res_before_noise": 0,  # 1: res_z_max / res_xy_max act on the acquisition grid, before the noise
    }

    hparam_bounds: ClassVar[dict[str, Bound]] = {"res_z_max": AT_LEAST_ONE, "res_xy_max": AT_LEAST_ONE,
                                                 "gamma_std": NON_NEGATIVE, "norm_jitter": NON_NEGATIVE,
                                                 "haste_tr_min": POSITIVE, "haste_tr_max": POSITIVE}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.hparams["body_mask"] not in BODY_MASKS:
            raise CrosspanError(None, f"physics-rand: unknown body_mask '{self.hparams['body_mask']}'",
                                f"use {' or '.join(BODY_MASKS)}")

    def _draw(self, tissue: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, dict]:
        hp = self.hparams
        acquire = (float(hp["res_z_max"]), float(hp["res_xy_max"])) if hp["res_before_noise"] else (1.0, 1.0)
        return draw_images(tissue, gen, snr=(hp["snr_min"], hp["snr_max"]), bias=(0.0, hp["bias_max"]),
                           blur=(0.0, hp["blur_max"]),
                           family_probs=(hp["p_t1fs"], hp["p_gre"], hp["p_haste"], hp["p_ir"]),
                           haste_tr=(float(hp["haste_tr_min"]), float(hp["haste_tr_max"])), acquire=acquire,
                           mask=str(hp["body_mask"]))

    def synthesize(self, tissue: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return self._draw(tissue, gen)[0]

    def synthesize_normalized(self, tissue: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Normalized with the whole-volume statistics of the drawn protocol (``hp volume_norm=1``, default) or
        z-scored inside the patch's body (``volume_norm=0``)."""
        hp = self.hparams
        img, proto = self._draw(tissue, gen)
        if not hp["res_before_noise"]:
            img, _ = random_resolution(img, float(hp["res_z_max"]), float(hp["res_xy_max"]), gen)
        img, _ = random_gamma(img, float(hp["gamma_std"]), gen)
        x = volume_zscore(img, proto) if hp["volume_norm"] else zscore_body(img, tissue > 0)
        if float(hp["p_gmm"]) > 0:  # mixed with SynthSeg's random-contrast draws
            # gmm_volume_norm: normalized as synthseg's, with the draw's statistics on the reference abdomen;
            # otherwise z-scored in the patch's body
            gmm, stats = gmm_volume_draw(tissue, gen) if hp["gmm_volume_norm"] else (gmm_images(tissue, gen), None)
            gmm, _ = random_resolution(gmm, float(hp["res_z_max"]), float(hp["res_xy_max"]), gen)
            gmm = zscore_body(gmm, tissue > 0) if stats is None else apply_stats(gmm, stats)
            pick = torch.rand(x.shape[0], generator=gen, device=gen.device) < float(hp["p_gmm"])
            x = torch.where(pick.reshape(-1, 1, 1, 1, 1), gmm, x)
        return random_normalization_jitter(x, float(hp["norm_jitter"]), gen)[0]
