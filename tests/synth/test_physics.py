"""Physics of the synthetic renderer: PHYSICS.md section 2.3 ratios, contrast inversions, India ink, SNR vs B0."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from scipy import ndimage

from crosspan.synth.anatomy import sample_anatomy
from crosspan.synth.scan import simulate_scan
from crosspan.synth.scanner import apply_overrides, load_centers
from crosspan.synth.sequences import signal_lut
from crosspan.synth.tissues import Tissue as T
from crosspan.synth.tissues import nominal_arrays

# PHYSICS.md 2.3 (1.5 T, normalised to liver): sequence -> {tissue: ratio}
TABLE_23 = {
    "T1pre": ({"kind": "spgr", "TR": 4.3, "TE": 1.4, "FA": 10, "fatsat": 0.17},
              {T.PANCREAS: 1.03, T.SPLEEN: 0.75, T.KIDNEY_CORTEX: 0.83, T.MUSCLE: 0.72, T.FLUID: 0.28,
               T.SUBCUT_FAT: 0.24, T.AORTA: 0.63}),
    "T1ven": ({"kind": "spgr", "TR": 4.3, "TE": 1.4, "FA": 10, "fatsat": 0.17, "contrast": True, "r1": 4.5, "cp": 1.5},
              {T.PANCREAS: 1.06, T.SPLEEN: 1.08, T.KIDNEY_CORTEX: 1.30, T.FLUID: 0.19, T.SUBCUT_FAT: 0.16,
               T.AORTA: 1.45}),
    "HASTE": ({"kind": "haste", "TR": 1030, "TE": 85},
              {T.PANCREAS: 1.07, T.SPLEEN: 1.78, T.KIDNEY_CORTEX: 2.12, T.MUSCLE: 0.28, T.FLUID: 2.26}),
    "OP": ({"kind": "spgr", "TR": 170, "TE": 2.3, "FA": 70},
           {T.PANCREAS: 1.02, T.SPLEEN: 0.74, T.MUSCLE: 0.67, T.FLUID: 0.27, T.SUBCUT_FAT: 1.37}),
    "IP": ({"kind": "spgr", "TR": 170, "TE": 4.6, "FA": 70},
           {T.PANCREAS: 1.05, T.SPLEEN: 0.74, T.MUSCLE: 0.64, T.SUBCUT_FAT: 1.56}),
}


@pytest.mark.parametrize("name", list(TABLE_23))
def test_relative_signals_match_physics_table(name: str) -> None:
    seq, expected = TABLE_23[name]
    p = nominal_arrays(1.5)
    p["fat_t2_fse"][:] = 120.0  # the table's assumption
    s = np.abs(signal_lut(p, seq, 1.5)[0])
    for tissue, ratio in expected.items():
        got = s[tissue] / s[T.LIVER]
        assert got == pytest.approx(ratio, rel=0.12), (name, tissue.name, got, ratio)


def test_opposed_phase_drops_fatty_pancreas_signal() -> None:
    p = nominal_arrays(1.5)
    p["ff"][T.PANCREAS] = 0.10
    op = np.abs(signal_lut(p, TABLE_23["OP"][0], 1.5)[0, T.PANCREAS])
    ip = np.abs(signal_lut(p, TABLE_23["IP"][0], 1.5)[0, T.PANCREAS])
    assert 0.72 < op / ip < 0.88  # single-peak rule of thumb |1 - 2 FF| = 0.8


@pytest.fixture(scope="module")
def scans() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """One small patient rendered with nominal tissue parameters at center A, noise-free and with noise."""
    anatomy = sample_anatomy(np.random.default_rng(11))
    center = load_centers()["A"]
    quiet = apply_overrides({"A": center}, {"scanner.snr": 1e9, "scanner.b1": 0.0, "scanner.bias": 0.0})["A"]
    out = {}
    for seq in ("T1", "T2", "OOP", "IP"):
        out[seq] = simulate_scan(anatomy, nominal_arrays(1.5), quiet, seq, np.random.default_rng(0), size="small")[:2]
    return out


def _interior(tissue: np.ndarray, cls: int, it: int = 1) -> np.ndarray:
    return ndimage.binary_erosion(tissue == cls, iterations=it)


def _mean(img: np.ndarray, mask: np.ndarray) -> float:
    assert mask.sum() > 5
    return float(img[mask].mean())


def test_t1_pancreas_bright_fat_dark(scans: dict) -> None:
    img, tis = scans["T1"]
    pan, liv = _mean(img, _interior(tis, T.PANCREAS)), _mean(img, _interior(tis, T.LIVER, 2))
    fat = _mean(img, _interior(tis, T.SUBCUT_FAT))
    assert pan > liv
    assert fat < 0.4 * liv
    assert _mean(img, _interior(tis, T.AORTA)) > liv  # venous phase: vessels bright


def test_t2_fat_fluid_bright_vessels_dark(scans: dict) -> None:
    img, tis = scans["T2"]
    liv = _mean(img, _interior(tis, T.LIVER, 2))
    fluid = _mean(img, _interior(tis, T.FLUID))
    assert _mean(img, _interior(tis, T.SUBCUT_FAT)) > 2 * liv
    assert fluid > 2 * liv
    assert fluid > _mean(img, _interior(tis, T.SUBCUT_FAT))  # fluid brightest
    assert _mean(img, _interior(tis, T.AORTA)) < 0.3 * liv  # flow void


def test_pancreas_fat_contrast_inverts(scans: dict) -> None:
    ratios = {}
    for seq in ("T1", "T2", "OOP"):
        img, tis = scans[seq]
        ratios[seq] = _mean(img, _interior(tis, T.PANCREAS)) / _mean(img, _interior(tis, T.VISCERAL_FAT))
    assert ratios["T1"] > 1.5
    assert ratios["T2"] < 0.7 and ratios["OOP"] < 0.9


def test_india_ink_on_opposed_phase_only(scans: dict) -> None:
    def edge_vs_sides(seq: str) -> tuple[float, float, float]:
        img, tis = scans[seq]
        liver, fat = tis == T.LIVER, tis == T.SUBCUT_FAT
        fat = np.isin(tis, (T.SUBCUT_FAT, T.VISCERAL_FAT))
        edge = liver & ndimage.binary_dilation(fat)
        return _mean(img, edge), _mean(img, _interior(tis, T.LIVER, 2)), _mean(img, fat & ~ndimage.binary_dilation(
            ~fat, iterations=2))

    edge, organ, fat = edge_vs_sides("OOP")
    assert edge < 0.85 * min(organ, fat)
    edge_ip, organ_ip, fat_ip = edge_vs_sides("IP")
    assert edge_ip > 0.95 * min(organ_ip, fat_ip)


def test_three_tesla_has_higher_snr_than_one_and_half() -> None:
    anatomy = sample_anatomy(np.random.default_rng(2))
    base = apply_overrides({"A": load_centers()["A"]}, {"scanner.b1": 0.0, "scanner.bias": 0.0, "scanner.snr": 20})

    def snr(field: float) -> float:
        center = copy.deepcopy(base["A"])
        center["field"] = field
        img, tis, _ = simulate_scan(anatomy, nominal_arrays(field), center, "T1", np.random.default_rng(4),
                                   size="small")
        sigma = img[tis == T.AIR].mean() / np.sqrt(np.pi / 2)  # Rayleigh background
        return float(img[_interior(tis, T.LIVER, 2)].mean() / sigma)

    s15, s3 = snr(1.5), snr(3.0)
    assert 15 < s15 < 26
    assert 1.2 * s15 < s3 < 2.2 * s15


def test_fat_saturation_fails_off_resonance() -> None:
    """A strong B0 map lets fat escape saturation on T1 FS; T2 (no fat-sat) is unaffected."""
    anatomy = sample_anatomy(np.random.default_rng(3))
    base = {"scanner.snr": 1e9, "scanner.b1": 0.0, "scanner.bias": 0.0}
    means = {}
    for b0 in (0.0, 400.0):
        center = apply_overrides({"B": load_centers()["B"]}, {**base, "scanner.b0": b0})["B"]
        for seq in ("T1", "T2"):
            img, tis, _ = simulate_scan(anatomy, nominal_arrays(3.0), center, seq, np.random.default_rng(1),
                                        size="small")
            means[seq, b0] = (_mean(img, _interior(tis, T.SUBCUT_FAT)), _mean(img, _interior(tis, T.LIVER, 2)))
    assert means["T1", 400.0][0] > 1.5 * means["T1", 0.0][0]
    assert means["T1", 400.0][1] == pytest.approx(means["T1", 0.0][1], rel=0.02)
    assert means["T2", 400.0][0] == pytest.approx(means["T2", 0.0][0], rel=1e-4)


def test_breathing_ghosts_raise_background() -> None:
    anatomy = sample_anatomy(np.random.default_rng(1))
    ratios = []
    for ghost in (0.0, 0.3):
        center = apply_overrides({"A": load_centers()["A"]}, {"scanner.snr": 1e9, "T1.ghost": ghost})["A"]
        img, tis, _ = simulate_scan(anatomy, nominal_arrays(1.5), center, "T1", np.random.default_rng(0),
                                    size="small")
        ratios.append(img[tis == T.AIR].mean() / img[tis == T.LIVER].mean())
    assert ratios[1] > 1.4 * ratios[0]
