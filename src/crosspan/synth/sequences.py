"""MR signal equations: per-tissue complex signal look-up tables for one sequence (PHYSICS.md section 2).

* spoiled GRE (``spgr``): S = PD sin(a)(1-E1)/(1-cos(a)E1) exp(-TE/T2*) for water and fat pools, the fat pool
  with the six-peak spectrum (Yu et al., MRM 2008) so opposed/in-phase echoes and India-ink cancellation follow,
  optional spectral fat saturation (residual per peak as SpinSight) and gadolinium T1 shortening
  R1_post = R1_pre + r1 ECV Cp (fast exchange);
* single-shot FSE / HASTE (``haste``): S = PD (1-exp(-TR/T1)) exp(-TE/T2), fat with a long apparent T2
  (Henkelman et al., JMRI 1992), flowing blood as a flow void.
Functions are pure numpy on per-tissue arrays, so they port to torch directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crosspan.synth.tissues import FAT_AMP, FAT_PPM, FATSAT_RESIDUAL, GAMMA_MHZ_T


def spgr_factor(t1: np.ndarray, tr: float, fa_rad: np.ndarray) -> np.ndarray:
    """Steady-state spoiled-GRE factor sin(a)(1-E1)/(1-cos(a)E1)."""
    e1 = np.exp(-tr / t1)
    return np.sin(fa_rad) * (1 - e1) / (1 - np.cos(fa_rad) * e1)


def fat_phasor(te_ms: float, field: float, weights: np.ndarray = FAT_AMP) -> complex:
    """Sum_p a_p exp(i 2 pi df_p TE) of the multi-peak fat spectrum at echo time ``te_ms``."""
    df_hz = GAMMA_MHZ_T * field * FAT_PPM  # ppm * MHz = Hz
    return complex(np.sum(weights * np.exp(2j * np.pi * df_hz * te_ms * 1e-3)))


def fat_weights(fatsat_residual: float | None) -> np.ndarray:
    """Peak amplitudes after fat saturation leaving ``fatsat_residual`` of the fat signal (None: no fat-sat)."""
    if fatsat_residual is None or fatsat_residual >= 1:
        return FAT_AMP
    return FATSAT_RESIDUAL * (fatsat_residual / FATSAT_RESIDUAL.sum())


def post_contrast_t1(t1_ms: np.ndarray, ecv: np.ndarray, r1: float, cp_mm: float) -> np.ndarray:
    """T1 after gadolinium: 1/T1 = 1/T1_pre + r1 (L/mmol/s) * ECV * Cp (mM)."""
    return 1.0 / (1.0 / t1_ms + r1 * ecv * cp_mm * 1e-3)


def spgr_lut(p: dict[str, np.ndarray], seq: dict[str, Any], field: float, b1: np.ndarray) -> np.ndarray:
    """Complex signal (len(b1), n_tissues) of a spoiled GRE for each relative flip-angle scale in ``b1``."""
    tr, te = float(seq["TR"]), float(seq["TE"])
    fa = np.deg2rad(float(seq["FA"])) * np.asarray(b1, dtype=float)[:, None]
    t1w = p["t1"]
    t1f = p["fat_t1"]
    if seq.get("contrast"):
        cp, r1 = float(seq.get("cp", 1.5)), float(seq.get("r1", 4.5))
        t1w = post_contrast_t1(t1w, p["ecv"], r1, cp)
        t1f = post_contrast_t1(t1f, p["ecv"], r1, cp)
    fs = seq.get("fatsat")
    if seq.get("fatsat_failed"):  # the fat pool as if the saturation pulse missed it (off-resonance)
        fs = None
    phasor = fat_phasor(te, field, fat_weights(None if fs is None else float(fs)))
    water = 0.0 if seq.get("fat_only") else (1 - p["ff"]) * spgr_factor(t1w, tr, fa)
    fat = p["ff"] * spgr_factor(t1f, tr, fa) * phasor
    s = p["pd"] * (water + fat) * np.exp(-te / p["t2s"])
    inflow = float(seq.get("inflow", 1.0))
    return s * np.where(p["flow"], inflow, 1.0)


def fatsat_failure_lut(p: dict[str, np.ndarray], seq: dict[str, Any], field: float, b1: np.ndarray) -> np.ndarray:
    """Extra complex signal (len(b1), n_tissues) where spectral fat saturation fails completely; zero without
    fat-sat. Multiplied by a failure map q(B0) in [0, 1] in the renderer."""
    if seq.get("kind", "spgr") != "spgr" or seq.get("fatsat") is None:
        return np.zeros((len(b1), len(p["pd"])), dtype=complex)
    fat_full = spgr_lut(p, {**seq, "fat_only": True, "fatsat_failed": True}, field, b1)
    fat_sat = spgr_lut(p, {**seq, "fat_only": True}, field, b1)
    return fat_full - fat_sat


def fatsat_failure(b0_hz: np.ndarray, field: float) -> np.ndarray:
    """Fraction of fat escaping spectral saturation at off-resonance ``b0_hz``: a soft step where the shift
    reaches ~45 % of the fat-water separation (3.4 ppm), as fat-sat degrades where |dB0| > ~100 Hz at 3 T
    (Roberts et al., MRM 2021)."""
    df = 3.4 * GAMMA_MHZ_T * field
    return 1.0 / (1.0 + np.exp(-(np.abs(b0_hz) - 0.45 * df) / (0.08 * df)))


def haste_lut(p: dict[str, np.ndarray], seq: dict[str, Any], field: float, b1: np.ndarray) -> np.ndarray:
    """Signal (len(b1), n_tissues) of single-shot FSE; reduced refocusing (b1 < 1) lowers it as sin^2(a/2)."""
    tr, te = float(seq["TR"]), float(seq["TE"])
    water = (1 - p["ff"]) * (1 - np.exp(-tr / p["t1"])) * np.exp(-te / p["t2"])
    fat_t2 = p["fat_t2_fse"] if not seq.get("fatsat") else p["fat_t2_fse"] * 0 + 1e-3
    fat = p["ff"] * (1 - np.exp(-tr / p["fat_t1"])) * np.exp(-te / fat_t2)
    s = p["pd"] * (water + fat)
    s = s * np.where(p["flow"], float(seq.get("flow_void", 0.03)), 1.0)
    refocus = np.sin(np.pi / 2 * np.clip(np.asarray(b1, dtype=float), 0.3, 1.0)) ** 2
    return (refocus[:, None] * s[None, :]).astype(complex)


KINDS = {"spgr": spgr_lut, "haste": haste_lut}


def signal_lut(p: dict[str, np.ndarray], seq: dict[str, Any], field: float,
               b1: np.ndarray | None = None) -> np.ndarray:
    """Per-tissue complex signal for sequence ``seq`` (dict with ``kind`` and its parameters)."""
    b1 = np.ones(1) if b1 is None else np.asarray(b1, dtype=float)
    kind = seq.get("kind", "spgr")
    if kind not in KINDS:
        raise ValueError(f"unknown sequence kind '{kind}' (use {', '.join(KINDS)})")
    return KINDS[kind](p, seq, field, b1)
