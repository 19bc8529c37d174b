"""Random physically possible MR protocols and scanners for label-map training (method ``physics-rand``).

Per sample: a sequence family, its parameters within clinical ranges (shared PHYSICS.md section 2.1-2.2), the
field strength, per-tissue parameter jitter and scanner effects; then the image is rendered by
:mod:`crosspan.synth.torch_render`. All draws come from one ``torch.Generator`` (same seed, same images).

Families: ``t1fs`` spoiled GRE with fat saturation, pre-contrast or with gadolinium (VIBE/LAVA/THRIVE);
``gre`` spoiled GRE without fat-sat at any TE (opposed-/in-phase and in between, 2D or 3D, +/- contrast);
``haste`` single-shot FSE T2 (+/- fat-sat); ``ir`` inversion recovery (STIR-like to T1-weighted IR).
"""

from __future__ import annotations

from typing import Any

import torch

from crosspan.core.blur import gaussian_blur
from crosspan.methods.labelmap.acquisition import acquire_coarse
from crosspan.methods.labelmap.normalize import apply_stats, volume_stats
from crosspan.synth.tissues import FATS, TEXTURE, Tissue
from crosspan.synth.torch_render import (
    N_TISSUES,
    field_tensors,
    haste_signal,
    ir_signal,
    paint,
    scanner_effects,
    spgr_signal,
)

FAMILIES = ("t1fs", "gre", "haste", "ir")
# body voxels of a typical body-cropped volume per tissue class (synthetic cohort), for the SNR reference level
TISSUE_WEIGHTS = (0.0, 0.137, 0.166, 0.129, 0.112, 0.013, 0.010, 0.004, 0.017, 0.028, 0.006, 0.005, 0.002, 0.001,
                  0.008, 0.012, 0.005)
VESSEL_IDS = (Tissue.AORTA, Tissue.IVC, Tissue.PORTAL_VEIN, Tissue.SPLENIC_VEIN)


def _u(gen: torch.Generator, b: int, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(b, generator=gen, device=gen.device)


def _coin(gen: torch.Generator, b: int, p: float) -> torch.Tensor:
    return torch.rand(b, generator=gen, device=gen.device) < p


def draw_protocols(b: int, gen: torch.Generator, family_probs: tuple[float, ...] = (0.3, 0.3, 0.25, 0.15),
                   haste_tr: tuple[float, float] = (800.0, 2000.0)) -> dict[str, torch.Tensor]:
    """(B,) tensors: family index, field (T), TR/TE/TI (ms), flip (deg), fat-sat residual (1 = none), r1*Cp
    (0 = pre-contrast), vessel inflow/flow-void factor. ``haste_tr``: the HASTE TR range (ms), breath-hold
    single-shot ~1000 ms up to respiratory-triggered 1-2 breaths (~3000-6000 ms)."""
    probs = torch.tensor(family_probs, dtype=torch.float32, device=gen.device)
    fam = torch.multinomial(probs / probs.sum(), b, replacement=True, generator=gen)
    field = torch.where(_coin(gen, b, 0.5), 3.0, 1.5).to(gen.device)
    two_d = _coin(gen, b, 0.4)  # 2D GRE: long TR, large flip
    tr_gre = torch.where(two_d, _u(gen, b, 120, 220), _u(gen, b, 3.5, 8.0))
    fa_gre = torch.where(two_d, _u(gen, b, 55, 80), _u(gen, b, 8, 15))
    te_max_ip = 4.6 * 1.5 / field  # first in-phase echo at this field: 4.6 ms at 1.5 T, 2.3 ms at 3 T
    proto = {
        "family": fam, "field": field,
        "tr": torch.stack([_u(gen, b, 3.5, 6.0), tr_gre, _u(gen, b, *haste_tr), _u(gen, b, 2000, 6000)]),
        "te": torch.stack([_u(gen, b, 1.2, 2.6), 0.9 + (1.05 * te_max_ip - 0.9) * _u(gen, b, 0, 1),
                           _u(gen, b, 60, 140), _u(gen, b, 5, 40)]),
        "fa": torch.stack([_u(gen, b, 8, 15), fa_gre, torch.full((b,), 90.0, device=gen.device),
                           torch.full((b,), 90.0, device=gen.device)]),
        "ti": _u(gen, b, 100, 2500),
        "fatsat": torch.where(fam == 0, _u(gen, b, 0.03, 0.4), torch.ones(b, device=gen.device)),
        "haste_fatsat": _coin(gen, b, 0.3),
        "r1_cp": torch.where(torch.rand(b, generator=gen, device=gen.device) < torch.where(fam == 0, 0.6, 0.2),
                             _u(gen, b, 3.5, 5.5) * _u(gen, b, 0.5, 3.0), torch.zeros(b, device=gen.device)),
        "inflow": _u(gen, b, 0.4, 2.0), "flow_void": _u(gen, b, 0.0, 0.15),
    }
    idx = fam[None]
    for k in ("tr", "te", "fa"):
        proto[k] = proto[k].gather(0, idx)[0]
    return proto


def jitter_tissues(p: dict[str, torch.Tensor], gen: torch.Generator, t1: float = 0.15, t2: float = 0.15,
                   pd: float = 0.08) -> dict[str, torch.Tensor]:
    """Per-sample per-tissue log-normal jitter of T1/T2/T2*/PD, a shared T1 factor, and random fat fractions of
    the pancreas (0-20 %), liver (0-25 %) and marrow (20-85 %)."""
    b, n = p["pd"].shape
    dev = gen.device

    def ln(s: float) -> torch.Tensor:
        return torch.exp(s * torch.randn((b, n), generator=gen, device=dev))

    q = dict(p)
    shared = torch.exp(0.08 * torch.randn((b, 1), generator=gen, device=dev))
    q["t1"] = p["t1"] * shared * ln(t1)
    q["t2"] = p["t2"] * ln(t2)
    q["t2s"] = p["t2s"] * ln(t2)
    q["pd"] = (p["pd"] * ln(pd)).clamp(0, 1.2)
    ff = p["ff"].clone()
    ff[:, Tissue.PANCREAS] = _u(gen, b, 0.0, 0.2)
    ff[:, Tissue.LIVER] = _u(gen, b, 0.0, 0.25)
    ff[:, Tissue.MARROW] = _u(gen, b, 0.2, 0.85)
    for f in FATS:
        ff[:, f] = _u(gen, b, 0.85, 0.98)
    q["ff"] = ff
    return q


def signal_table(p: dict[str, torch.Tensor], proto: dict[str, torch.Tensor]) -> torch.Tensor:
    """Complex (B, T) per-tissue signal of each sample's drawn protocol."""
    fam = proto["family"]
    spgr = spgr_signal(p, proto["tr"], proto["te"], proto["fa"], proto["field"], proto["fatsat"], proto["r1_cp"],
                       proto["inflow"])
    haste = haste_signal(p, proto["tr"], proto["te"], proto["haste_fatsat"], proto["flow_void"])
    ir = ir_signal(p, proto["tr"], proto["ti"], proto["te"])
    f = fam[:, None]
    return torch.where(f <= 1, spgr, torch.where(f == 2, haste, ir))


def texture(tissue: torch.Tensor, gen: torch.Generator, scale: tuple[float, float] = (0.5, 2.0)) -> torch.Tensor:
    """Multiplicative parenchymal heterogeneity (B, 1, Z, Y, X): 1 + amplitude(tissue) x smooth unit noise (in-plane
    grain ~2-3 voxels), the cohort renderer's ``TEXTURE`` amplitudes scaled per sample by U(``scale``)."""
    b = tissue.shape[0]
    amp = torch.tensor([TEXTURE.get(t, 0.0) for t in Tissue], device=tissue.device)[tissue.clamp(0, N_TISSUES - 1)]
    grain = torch.randn(tissue.shape, generator=gen, device=gen.device)
    grain = gaussian_blur(grain, torch.tensor([[0.3, 0.8, 0.8]], device=gen.device).expand(b, 3), truncate=2.5,
                          min_sigma=1e-3)
    grain = grain / grain.flatten(1).std(1).clamp_min(1e-6).reshape(-1, 1, 1, 1, 1)
    return 1 + amp * _u(gen, b, *scale).reshape(-1, 1, 1, 1, 1) * grain


def draw_images(tissue: torch.Tensor, gen: torch.Generator, snr: tuple[float, float] = (8.0, 40.0),
                bias: tuple[float, float] = (0.0, 0.4), blur: tuple[float, float] = (0.0, 1.2),
                family_probs: tuple[float, ...] = (0.3, 0.3, 0.25, 0.15),
                haste_tr: tuple[float, float] = (800.0, 2000.0),
                acquire: tuple[float, float] = (1.0, 1.0), mask: str = "otsu") -> tuple[torch.Tensor, dict]:
    """Magnitude images (B, 1, Z, Y, X) float32 drawn from tissue maps (B, 1, Z, Y, X), and the protocols used
    (``proto["norm"]``: the whole-volume normalization statistics of :func:`volume_zscore`). ``acquire``: the
    largest slice-thickness / in-plane factors of :func:`~crosspan.methods.labelmap.acquisition.acquire_coarse`
    (scanner effects and noise on a coarser grid, then back; (1, 1) = on the label map's grid). ``mask``: the body
    mask of those statistics (:func:`~crosspan.methods.labelmap.normalize.volume_stats`)."""
    b = tissue.shape[0]
    proto: dict[str, Any] = draw_protocols(b, gen, family_probs, haste_tr)  # + "norm", a dict of its own
    p = jitter_tissues(field_tensors(proto["field"]), gen)
    lut = signal_table(p, proto)
    img = paint(tissue, lut) * texture(tissue, gen)
    level = lut.abs().float()
    w = torch.tensor(TISSUE_WEIGHTS, device=level.device)
    sigma = (level * w).sum(1) / w.sum() / _u(gen, b, *snr)  # SNR relative to the mean body signal
    blur_s = torch.stack([_u(gen, b, *blur) * 1.5, _u(gen, b, *blur), _u(gen, b, *blur)], 1)  # z often coarser
    amp = _u(gen, b, *bias)
    if max(acquire) > 1.0:
        out = acquire_coarse(img, gen, *acquire, lambda x, i: scanner_effects(
            x, gen, sigma=sigma[i:i + 1], bias=amp[i:i + 1], blur=blur_s[i:i + 1]))
    else:
        out = scanner_effects(img, gen, sigma=sigma, bias=amp, blur=blur_s)
    proto["norm"] = volume_stats(level, sigma, gen, mask=mask)
    return out, proto


def volume_zscore(image: torch.Tensor, proto: dict) -> torch.Tensor:
    """Normalize drawn images as the preprocessing normalizes a whole volume of this protocol
    (:mod:`crosspan.methods.labelmap.normalize`), independent of where the patch lies."""
    return apply_stats(image, proto["norm"])


def body_stats(image: torch.Tensor, body: torch.Tensor, clip: tuple[float, float] = (0.005, 0.995),
               sample: int = 32768) -> dict[str, torch.Tensor]:
    """The preprocessing's normalization statistics per sample of a batch (each (B,), for
    :func:`~crosspan.methods.labelmap.normalize.apply_stats`): the 0.5/99.5 percentiles inside the body (estimated
    on a strided subsample), then the body's mean and std after clipping to them."""
    b = image.shape[0]
    x, m = image.reshape(b, -1), body.reshape(b, -1)
    m = torch.where(m.any(1, keepdim=True), m, torch.ones_like(m))
    stride = max(1, x.shape[1] // sample)
    q = torch.tensor(clip, device=x.device, dtype=x.dtype)
    lo, hi = [], []
    for i in range(b):
        sub = x[i, ::stride][m[i, ::stride]]
        sub = sub if sub.numel() else x[i][m[i]]
        v = torch.quantile(sub, q)
        lo.append(v[0])
        hi.append(v[1])
    low, high = torch.stack(lo)[:, None], torch.stack(hi)[:, None]
    xc = x.clamp(low, high)
    w = m.to(x.dtype)
    n = w.sum(1, keepdim=True)
    mean = (xc * w).sum(1, keepdim=True) / n
    std = (((xc - mean) ** 2 * w).sum(1, keepdim=True) / n).sqrt()
    return {k: v.reshape(-1) for k, v in {"lo": low, "hi": high, "mean": mean, "std": std.clamp_min(1e-6)}.items()}


def zscore_body(image: torch.Tensor, body: torch.Tensor, clip: tuple[float, float] = (0.005, 0.995),
                sample: int = 32768) -> torch.Tensor:
    """The preprocessing's normalization on a batch, with the patch's own body statistics (:func:`body_stats`)."""
    return apply_stats(image, body_stats(image, body, clip, sample))
