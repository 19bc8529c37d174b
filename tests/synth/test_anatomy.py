"""Synthetic anatomy: pancreas size and position (PHYSICS.md section 4), exclusive labels, label/image alignment."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from crosspan.synth.anatomy import breathing_offset, rasterize, sample_anatomy
from crosspan.synth.pancreas import pancreas_nodes
from crosspan.synth.render import block_mode
from crosspan.synth.scan import fine_axes, simulate_scan
from crosspan.synth.scanner import load_centers, scan_geometry
from crosspan.synth.tissues import Tissue as T
from crosspan.synth.tissues import patient_arrays


@pytest.fixture(scope="module")
def default_maps() -> list[tuple[dict, np.ndarray, float]]:
    """Five patients on center A's default T1 grid (no supersampling): (anatomy, labels, voxel mL)."""
    geom = scan_geometry(load_centers()["A"], "T1", "default")
    z, y, x = fine_axes(geom, (1, 1, 1))
    out = []
    for i in range(5):
        a = sample_anatomy(np.random.default_rng(300 + i))
        out.append((a, rasterize(a, z, y, x), float(np.prod(geom["spacing"])) / 1000, (z, y, x)))
    return out


def test_pancreas_volume_within_physics_range(default_maps: list) -> None:
    vols = np.array([(lab == T.PANCREAS).sum() * ml for _, lab, ml, _ in default_maps])
    assert ((vols > 30) & (vols < 110)).all(), vols  # MRI adults 35-106 mL (Szczepaniak 2013)
    assert 40 < vols.mean() < 100


def test_pancreas_is_one_gland_in_place(default_maps: list) -> None:
    for a, lab, _, (z, y, x) in default_maps:
        pan = lab == T.PANCREAS
        comps, n = ndimage.label(pan)
        assert n >= 1 and np.bincount(comps.ravel())[1:].max() > 0.9 * pan.sum()
        zz, yy, xx = np.nonzero(pan)
        length = x[xx].max() - x[xx].min()
        assert 100 < length < 190  # 12-15 cm along a curved course
        nodes = pancreas_nodes(a)
        smv_x = nodes["smv"][0]
        head, tail = xx[x[xx] < smv_x - 10], xx[x[xx] > smv_x + 40]
        assert head.size and tail.size
        # tail rises: its mean z is above the head's
        assert z[zz[x[xx] > smv_x + 40]].mean() > z[zz[x[xx] < smv_x - 10]].mean()
        # splenic vein lies behind (posterior, +y) the body/tail and touches it
        sv = lab == T.SPLENIC_VEIN
        assert sv.any() and y[np.nonzero(sv)[1]].mean() > y[yy[x[xx] > smv_x]].mean()
        assert (ndimage.binary_dilation(pan, iterations=2) & sv).any()
        # the duodenum wraps the head: bowel wall next to the head, none of the gland touches air
        assert (ndimage.binary_dilation(pan, iterations=3) & (lab == T.BOWEL_WALL)).any()
        assert not (ndimage.binary_dilation(pan) & (lab == T.AIR)).any()


def test_every_organ_present_and_exclusive(default_maps: list) -> None:
    _, lab, ml, _ = default_maps[0]
    counts = np.bincount(lab.ravel(), minlength=len(T)) * ml
    assert lab.max() < len(T)  # no temporary classes left
    for t in (T.LIVER, T.SPLEEN, T.KIDNEY_CORTEX, T.KIDNEY_MEDULLA, T.AORTA, T.IVC, T.PORTAL_VEIN, T.SPLENIC_VEIN,
              T.MARROW, T.BOWEL_WALL, T.FLUID, T.MUSCLE, T.SUBCUT_FAT, T.VISCERAL_FAT, T.PANCREAS):
        assert counts[t] > 0.5, t.name
    assert 700 < counts[T.LIVER] < 2200 and 60 < counts[T.SPLEEN] < 400


def test_labels_match_rendered_tissue_map_with_offsets() -> None:
    center = load_centers()["A"]
    a = sample_anatomy(np.random.default_rng(5))
    p = patient_arrays(1.5, np.random.default_rng(6), a["age"])
    off = breathing_offset(a, np.random.default_rng(7))
    assert 0 < np.abs(off).max() < 12
    img, tissue, rec = simulate_scan(a, p, center, "OOP", np.random.default_rng(8), size="small", offset=off)
    fine = rasterize(a, *fine_axes(rec["geometry"], (1, 2, 2)), offset=off)
    assert np.array_equal(tissue, block_mode(fine, (1, 2, 2)))
    assert img.shape == tissue.shape
    _, tissue0, _ = simulate_scan(a, p, center, "IP", np.random.default_rng(8), size="small")
    assert tissue0.shape == tissue.shape and not np.array_equal(tissue0 == T.PANCREAS, tissue == T.PANCREAS)
    overlap = ((tissue0 == T.PANCREAS) & (tissue == T.PANCREAS)).sum() / (tissue == T.PANCREAS).sum()
    assert overlap > 0.3  # similar, not identical


def test_block_mode_picks_majority() -> None:
    lab = np.array([[[1, 1, 2, 3], [1, 4, 2, 2]]], dtype=np.uint8)
    assert block_mode(lab, (1, 2, 2)).tolist() == [[[1, 2]]]


def test_haste_slice_jitter_moves_label_with_each_slice() -> None:
    center = load_centers()["C"]
    a = sample_anatomy(np.random.default_rng(9))
    p = patient_arrays(1.5, np.random.default_rng(9), a["age"])
    img, tissue, rec = simulate_scan(a, p, center, "T2", np.random.default_rng(3), size="small")
    offs = rec["slice_offsets_mm"]
    assert len(offs) == tissue.shape[0] and len({tuple(o) for o in offs}) == len(offs)
    z, y, x = fine_axes(rec["geometry"], (1, 2, 2))
    for k in (tissue.shape[0] // 2, tissue.shape[0] // 2 + 1):
        fine = rasterize(a, z[k:k + 1], y, x, offset=tuple(offs[k]))
        assert np.array_equal(tissue[k:k + 1], block_mode(fine, (1, 2, 2)))
