"""Tissue classes of the synthetic anatomy and their MR parameters (shared PHYSICS.md section 1).

Relaxation times follow de Bazelaire et al., Radiology 2004 (1.5 T and 3 T, same volunteers), blood and free
fluid Stanisz et al., MRM 2005 / SpinSight; fat fractions Sijens et al., WJG 2010; ECV Tirkes et al. 2019 and
assumptions marked in PHYSICS.md. Each tissue is a water pool (T1, T2, T2*) mixed with a fat pool
(fat fraction FF) that shares the voxel's T2*.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Tissue(IntEnum):
    """One integer class per voxel of the tissue label map."""

    AIR = 0
    SUBCUT_FAT = 1
    VISCERAL_FAT = 2
    MUSCLE = 3
    LIVER = 4
    SPLEEN = 5
    KIDNEY_CORTEX = 6
    KIDNEY_MEDULLA = 7
    BOWEL_WALL = 8
    FLUID = 9
    AORTA = 10
    IVC = 11
    PORTAL_VEIN = 12
    SPLENIC_VEIN = 13
    BONE = 14
    MARROW = 15
    PANCREAS = 16


N_TISSUES = len(Tissue)
VESSELS = (Tissue.AORTA, Tissue.IVC, Tissue.PORTAL_VEIN, Tissue.SPLENIC_VEIN)
FATS = (Tissue.SUBCUT_FAT, Tissue.VISCERAL_FAT)


@dataclass(frozen=True)
class TissueParams:
    """Nominal parameters of one tissue: (1.5 T, 3 T) pairs for T1, T2, T2* in ms."""

    pd: float
    t1: tuple[float, float]
    t2: tuple[float, float]
    t2s: tuple[float, float]
    ff: float = 0.0
    ecv: float = 0.0
    flow: bool = False


_BLOOD = TissueParams(0.85, (1441, 1932), (290, 275), (100, 50), 0.0, 0.58, True)  # ECV = plasma fraction 1-Hct
_FAT = TissueParams(0.95, (800, 900), (40, 40), (40, 20), 0.95, 0.03)

TABLE: dict[Tissue, TissueParams] = {
    Tissue.AIR: TissueParams(0.0, (1000, 1000), (1, 1), (1, 1)),
    Tissue.SUBCUT_FAT: _FAT,
    Tissue.VISCERAL_FAT: TissueParams(0.95, (800, 900), (40, 40), (40, 20), 0.92, 0.03),
    Tissue.MUSCLE: TissueParams(0.70, (856, 898), (27, 29), (18, 15), 0.03, 0.15),
    Tissue.LIVER: TissueParams(0.72, (586, 809), (46, 34), (35, 18), 0.023, 0.25),
    Tissue.SPLEEN: TissueParams(0.80, (1057, 1328), (79, 61), (40, 16), 0.0, 0.30),
    Tissue.KIDNEY_CORTEX: TissueParams(0.82, (966, 1142), (87, 76), (52, 45), 0.007, 0.45),
    Tissue.KIDNEY_MEDULLA: TissueParams(0.85, (1412, 1545), (85, 81), (50, 36), 0.0, 0.35),
    Tissue.BOWEL_WALL: TissueParams(0.75, (856, 898), (50, 50), (30, 20), 0.0, 0.30),
    Tissue.FLUID: TissueParams(1.0, (4280, 4160), (2030, 2100), (500, 300)),
    Tissue.AORTA: _BLOOD,
    Tissue.IVC: _BLOOD,
    Tissue.PORTAL_VEIN: _BLOOD,
    Tissue.SPLENIC_VEIN: _BLOOD,
    Tissue.BONE: TissueParams(0.05, (1000, 1100), (1, 1), (1, 1)),
    Tissue.MARROW: TissueParams(0.90, (549, 586), (49, 49), (25, 15), 0.50, 0.10),
    Tissue.PANCREAS: TissueParams(0.75, (584, 725), (46, 43), (30, 20), 0.027, 0.28),
}

# Fat pool (SpinSight adipose at 1.5 T / de Bazelaire 3 T); the apparent T2 on fast spin echo is long because
# the echo train suppresses J-coupling dephasing (Henkelman et al., JMRI 1992).
FAT_T1 = (343.0, 382.0)
FAT_T2 = (58.0, 68.0)
FAT_T2_FSE = (150.0, 130.0)

# Six-peak fat spectrum (ppm from water, relative amplitude): Yu et al. MRM 2008 / ISMRM 2012 challenge.
FAT_PPM = np.array([-3.80, -3.40, -2.60, -1.94, -0.39, 0.60])
FAT_AMP = np.array([0.087, 0.693, 0.128, 0.004, 0.039, 0.048])
# Fraction of each peak surviving spectral fat saturation (SpinSight): ~17 % of the fat signal in total.
FATSAT_RESIDUAL = np.array([0.010, 0.033, 0.038, 0.003, 0.037, 0.045])
GAMMA_MHZ_T = 42.577


# Relative amplitude of fine parenchymal heterogeneity (small vessels, lobules, septa) per tissue (assumption).
TEXTURE = {Tissue.LIVER: 0.05, Tissue.SPLEEN: 0.04, Tissue.KIDNEY_CORTEX: 0.04, Tissue.KIDNEY_MEDULLA: 0.05,
           Tissue.PANCREAS: 0.08, Tissue.MUSCLE: 0.05, Tissue.SUBCUT_FAT: 0.03, Tissue.VISCERAL_FAT: 0.04,
           Tissue.MARROW: 0.08, Tissue.BOWEL_WALL: 0.05}


def field_index(field: float) -> int:
    """0 for 1.5 T tables, 1 for 3 T (nearest)."""
    return 0 if abs(field - 1.5) <= abs(field - 3.0) else 1


def nominal_arrays(field: float) -> dict[str, np.ndarray]:
    """Per-tissue parameter arrays (indexed by tissue class) at ``field`` tesla, without jitter."""
    i = field_index(field)
    rows = [TABLE[t] for t in Tissue]
    return {
        "pd": np.array([r.pd for r in rows]),
        "t1": np.array([r.t1[i] for r in rows], dtype=float),
        "t2": np.array([r.t2[i] for r in rows], dtype=float),
        "t2s": np.array([r.t2s[i] for r in rows], dtype=float),
        "ff": np.array([r.ff for r in rows]),
        "ecv": np.array([r.ecv for r in rows]),
        "flow": np.array([r.flow for r in rows]),
        "fat_t1": np.full(N_TISSUES, FAT_T1[i]),
        "fat_t2": np.full(N_TISSUES, FAT_T2[i]),
        "fat_t2_fse": np.full(N_TISSUES, FAT_T2_FSE[i]),
        "texture": np.array([TEXTURE.get(t, 0.0) for t in Tissue]),
    }


def pancreas_fat_fraction(age: float) -> float:
    """Pancreatic PDFF rising with age: ~2.8 % at 20-50 y, ~6.3 % at 50-70 y (Li et al., Pancreas 2011)."""
    return float(np.clip(0.02 + 0.0011 * max(age - 30.0, 0.0), 0.01, 0.2))


def patient_arrays(field: float, rng: np.random.Generator, age: float, t1_jitter: float = 0.1,
                   t1_bias: float = 1.0) -> dict[str, np.ndarray]:
    """Tissue arrays jittered for one patient: a shared T1 factor (method-like, ``t1_jitter``), small
    per-tissue spreads of T1/T2/PD, the center's T1 bias, and the pancreas fat fraction of ``age``."""
    p = nominal_arrays(field)
    n = N_TISSUES
    shared = 1.0 + t1_jitter * 0.8 * rng.standard_normal()
    p["t1"] = p["t1"] * t1_bias * np.clip(shared + t1_jitter * 0.4 * rng.standard_normal(n), 0.6, 1.5)
    p["t2"] = p["t2"] * np.clip(1.0 + 0.05 * rng.standard_normal(n), 0.7, 1.3)
    p["t2s"] = p["t2s"] * np.clip(1.0 + 0.08 * rng.standard_normal(n), 0.6, 1.4)
    p["pd"] = p["pd"] * np.clip(1.0 + 0.03 * rng.standard_normal(n), 0.85, 1.15)
    p["ff"][Tissue.PANCREAS] = pancreas_fat_fraction(age) * float(np.clip(1 + 0.25 * rng.standard_normal(), 0.5, 2))
    p["ff"][Tissue.LIVER] = float(np.clip(rng.lognormal(np.log(0.02), 0.7), 0.0, 0.25))
    p["ff"][Tissue.MARROW] = float(np.clip(0.35 + 0.005 * age + 0.05 * rng.standard_normal(), 0.2, 0.85))
    return p
