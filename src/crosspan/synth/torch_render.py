"""Batched torch renderer of tissue label maps (CPU or GPU), for drawing training images inside the training loop.

The same signal equations as :mod:`crosspan.synth.sequences` (shared PHYSICS.md section 2), on tensors with one
row per sample: per-tissue parameters are (B, T) tensors, protocol parameters (B,) tensors, so every sample of a
batch can have its own sequence, field and tissue jitter.

* spoiled GRE: S = PD sin(a)(1-E1)/(1-cos(a)E1) exp(-TE/T2*), water + fat pool with the six-peak fat spectrum
  (Yu et al., MRM 2008) as a complex sum, so any TE (opposed/in-phase included) follows; spectral fat-sat leaves
  a per-peak residual (SpinSight); gadolinium 1/T1 = 1/T1_pre + r1 ECV Cp;
* single-shot FSE / HASTE: S = PD (1-exp(-TR/T1)) exp(-TE/T2), fat with its long apparent FSE T2 (Henkelman et
  al., JMRI 1992), flowing blood as a flow void;
* inversion recovery (magnitude): S = |PD (1 - 2 exp(-TI/T1) + exp(-TR/T1)) exp(-TE/T2)| per pool (complex sum of
  water and fat before the magnitude), e.g. STIR nulls fat at TI ~ ln 2 T1_fat;
* scanner: complex signal per voxel, optional Gaussian blur (resolution), smooth multiplicative bias field,
  complex Gaussian noise, magnitude (Rician, Gudbjartsson & Patz, MRM 1995).

No supersampling: the image has the label map's grid (partial volume comes only from the blur).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from crosspan.core.blur import gaussian_blur
from crosspan.synth.tissues import FAT_AMP, FAT_PPM, FATSAT_RESIDUAL, GAMMA_MHZ_T, N_TISSUES, nominal_arrays

PARAM_KEYS = ("pd", "t1", "t2", "t2s", "ff", "ecv", "flow", "fat_t1", "fat_t2", "fat_t2_fse")


def tissue_tensors(field: float, device: torch.device | str = "cpu", batch: int = 1) -> dict[str, torch.Tensor]:
    """Nominal per-tissue parameters at ``field`` tesla as float32 (batch, T) tensors."""
    p = nominal_arrays(field)
    return {k: torch.as_tensor(np.asarray(p[k], dtype=np.float32), device=device).expand(batch, -1).clone()
            for k in PARAM_KEYS}


def field_tensors(fields: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-sample nominal parameters (B, T) for per-sample fields (B,) of 1.5 or 3 T (nearest table)."""
    lo, hi = tissue_tensors(1.5, fields.device), tissue_tensors(3.0, fields.device)
    use_hi = (fields - 1.5).abs() > (fields - 3.0).abs()
    return {k: torch.where(use_hi[:, None], hi[k], lo[k]) for k in PARAM_KEYS}


def _col(x: torch.Tensor | float, ref: torch.Tensor) -> torch.Tensor:
    """A scalar or (B,) tensor as a (B, 1) column on ``ref``'s device."""
    t = torch.as_tensor(x, dtype=torch.float32, device=ref.device)
    return t.reshape(-1, 1) if t.ndim else t.reshape(1, 1)


def spgr_factor(t1: torch.Tensor, tr: torch.Tensor, fa_rad: torch.Tensor) -> torch.Tensor:
    """Steady-state spoiled-GRE factor sin(a)(1-E1)/(1-cos(a)E1)."""
    e1 = torch.exp(-tr / t1)
    return torch.sin(fa_rad) * (1 - e1) / (1 - torch.cos(fa_rad) * e1)


def fat_phasor(te_ms: torch.Tensor, field: torch.Tensor, fatsat: torch.Tensor | None = None) -> torch.Tensor:
    """Complex (B, 1) sum_p a_p exp(i 2 pi df_p TE) of the six-peak fat spectrum; ``fatsat`` (B,) in [0, 1]: the
    residual fat fraction after spectral saturation (per-peak residual shape of SpinSight), 1 = no fat-sat."""
    te, b0 = _col(te_ms, field), _col(field, field)
    amp = torch.as_tensor(FAT_AMP, dtype=torch.float32, device=field.device)[None]
    if fatsat is not None:
        res = torch.as_tensor(FATSAT_RESIDUAL / FATSAT_RESIDUAL.sum(), dtype=torch.float32, device=field.device)[None]
        fs = _col(fatsat, field)
        amp = torch.where(fs >= 1, amp, res * fs)
    ppm = torch.as_tensor(FAT_PPM, dtype=torch.float32, device=field.device)
    phase = 2 * math.pi * GAMMA_MHZ_T * b0 * ppm * te * 1e-3  # Hz x s
    return (amp * torch.exp(1j * phase)).sum(1, keepdim=True)


def post_contrast_t1(t1: torch.Tensor, ecv: torch.Tensor, r1_cp: torch.Tensor) -> torch.Tensor:
    """T1 after gadolinium; ``r1_cp`` = r1 (L/mmol/s) x plasma concentration (mM), (B, 1)."""
    return 1.0 / (1.0 / t1 + ecv * r1_cp * 1e-3)


def spgr_signal(p: dict[str, torch.Tensor], tr, te, fa_deg, field, fatsat=None, r1_cp=None,
                inflow=None) -> torch.Tensor:
    """Complex (B, T) spoiled-GRE signal. Protocol arguments are floats or (B,) tensors; ``fatsat`` residual
    (None/1: none), ``r1_cp`` r1*Cp of gadolinium (None/0: pre-contrast), ``inflow`` vessel factor."""
    ref = p["pd"]
    tr, te, field = _col(tr, ref), _col(te, ref), _col(field, ref)
    fa = torch.deg2rad(_col(fa_deg, ref))
    t1w, t1f = p["t1"], p["fat_t1"]
    if r1_cp is not None:
        rc = _col(r1_cp, ref)
        t1w, t1f = post_contrast_t1(t1w, p["ecv"], rc), post_contrast_t1(t1f, p["ecv"], rc)
    phasor = fat_phasor(te, field, None if fatsat is None else torch.as_tensor(fatsat, device=ref.device))
    water = (1 - p["ff"]) * spgr_factor(t1w, tr, fa)
    fat = p["ff"] * spgr_factor(t1f, tr, fa) * phasor
    s = p["pd"] * (water + fat) * torch.exp(-te / p["t2s"])
    if inflow is not None:
        s = s * torch.where(p["flow"] > 0, _col(inflow, ref), torch.ones_like(ref))
    return s


def haste_signal(p: dict[str, torch.Tensor], tr, te, fatsat=None, flow_void=0.03) -> torch.Tensor:
    """Complex (B, T) single-shot FSE signal; ``fatsat`` (B,) bool or None; flowing blood scaled by ``flow_void``."""
    ref = p["pd"]
    tr, te = _col(tr, ref), _col(te, ref)
    water = (1 - p["ff"]) * (1 - torch.exp(-tr / p["t1"])) * torch.exp(-te / p["t2"])
    fat = p["ff"] * (1 - torch.exp(-tr / p["fat_t1"])) * torch.exp(-te / p["fat_t2_fse"])
    if fatsat is not None:
        fat = torch.where(_col(torch.as_tensor(fatsat, device=ref.device).float(), ref) > 0, torch.zeros_like(fat),
                          fat)
    s = p["pd"] * (water + fat)
    s = s * torch.where(p["flow"] > 0, _col(flow_void, ref), torch.ones_like(ref))
    return s.to(torch.complex64)


def ir_signal(p: dict[str, torch.Tensor], tr, ti, te) -> torch.Tensor:
    """Complex (B, T) inversion-recovery spin-echo signal (signed longitudinal recovery per pool, magnitude taken
    after the complex voxel sum): PD (1 - 2 exp(-TI/T1) + exp(-TR/T1)) exp(-TE/T2)."""
    ref = p["pd"]
    tr, ti, te = _col(tr, ref), _col(ti, ref), _col(te, ref)

    def mz(t1: torch.Tensor) -> torch.Tensor:
        return 1 - 2 * torch.exp(-ti / t1) + torch.exp(-tr / t1)

    water = (1 - p["ff"]) * mz(p["t1"]) * torch.exp(-te / p["t2"])
    fat = p["ff"] * mz(p["fat_t1"]) * torch.exp(-te / p["fat_t2_fse"])
    return (p["pd"] * (water + fat)).to(torch.complex64)


def paint(tissue: torch.Tensor, lut: torch.Tensor) -> torch.Tensor:
    """Complex image (B, 1, Z, Y, X): the per-sample look-up ``lut`` (B, T) at each voxel's tissue class."""
    b = tissue.shape[0]
    idx = tissue.long().clamp(0, lut.shape[1] - 1).reshape(b, -1, 1).expand(-1, -1, 2)
    ri = torch.view_as_real(lut.to(torch.complex64)).gather(1, idx)  # (B, N, 2) real and imaginary parts
    return torch.view_as_complex(ri.contiguous()).reshape(tissue.shape)


def bias_field(shape: tuple[int, ...], amp: torch.Tensor, gen: torch.Generator, nodes: int = 4) -> torch.Tensor:
    """Smooth multiplicative field exp(amp * u), u trilinearly upsampled from a ``nodes``^3 grid of N(0, 1)."""
    b = shape[0]
    coarse = torch.randn((b, 1, nodes, nodes, nodes), generator=gen, device=gen.device)
    u = F.interpolate(coarse, size=shape[2:], mode="trilinear", align_corners=True)
    return torch.exp(amp.reshape(-1, 1, 1, 1, 1) * u)


def scanner_effects(img: torch.Tensor, gen: torch.Generator, sigma: torch.Tensor | None = None,
                    bias: torch.Tensor | None = None, blur: torch.Tensor | None = None) -> torch.Tensor:
    """Magnitude image from a complex (B, 1, Z, Y, X) signal: blur (real and imaginary parts, so partial volume
    cancels fat against water), bias field, complex noise of std ``sigma`` (B,) per channel, magnitude."""
    ri = torch.cat([img.real, img.imag], 1).float()  # (B, 2, Z, Y, X)
    if blur is not None and float(blur.max()) > 0.05:
        ri = gaussian_blur(ri, blur, truncate=2.5, min_sigma=1e-3)
    re, im = ri[:, :1], ri[:, 1:]
    if bias is not None:
        f = bias_field(tuple(img.shape), bias, gen)
        re, im = re * f, im * f
    if sigma is not None:
        s = sigma.reshape(-1, 1, 1, 1, 1)
        re = re + s * torch.randn(re.shape, generator=gen, device=gen.device)
        im = im + s * torch.randn(im.shape, generator=gen, device=gen.device)
    return torch.sqrt(re * re + im * im)


__all__ = ["N_TISSUES", "PARAM_KEYS", "bias_field", "fat_phasor", "field_tensors", "haste_signal",
           "ir_signal", "paint", "scanner_effects", "spgr_signal", "tissue_tensors"]
