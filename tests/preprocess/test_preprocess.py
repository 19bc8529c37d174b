"""Plan values, reorientation/resampling geometry, cache resumability."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from crosspan.core.dice import dice
from crosspan.data.io import ImageProperties, read_image, read_sitk
from crosspan.preprocess.cache import preprocess_image
from crosspan.preprocess.geometry import canonical_spacing, to_source_grid
from crosspan.preprocess.plan import Preprocessing, patch_size, target_spacing
from crosspan.preprocess.run import preprocess
from toy_scans import OBLIQUE, toy_dataset


def test_target_spacing_median_when_isotropic_enough() -> None:
    sp = np.array([[2.0, 1.0, 1.0], [3.0, 0.8, 0.8], [2.5, 1.2, 1.2]])
    assert target_spacing(sp) == [2.5, 1.0, 1.0]


def test_target_spacing_anisotropic_takes_10th_percentile() -> None:
    z = np.array([4.0, 5.0, 6.0, 6.0, 6.0, 6.0, 6.0, 8.0, 8.0, 8.0])
    sp = np.stack([z, np.full(10, 1.0), np.full(10, 1.5)], axis=1)
    got = target_spacing(sp)
    assert got[1:] == [1.0, 1.5]
    assert got[0] == pytest.approx(np.percentile(z, 10))  # 4.9, not the median 6.0
    # never finer than the other axes: a coarse axis whose 10th percentile is tiny is clamped
    sp2 = np.array([[10.0, 1.0, 1.0]] * 8 + [[0.5, 1.0, 1.0]] * 2)
    assert target_spacing(sp2)[0] == pytest.approx(1.0, abs=1e-4)


def test_patch_size_fits_budget_and_is_multiple_of_16() -> None:
    p = patch_size([200.0, 300.0, 300.0], [1.0, 1.0, 1.0], 64**3)
    assert patch_size([20.0, 40.0, 40.0], [1.0, 1.0, 1.0], 128**3) == [32, 48, 48]
    assert all(v % 16 == 0 for v in p) and np.prod(p) <= 1.3 * 64**3
    assert patch_size([40.0, 40.0, 40.0], [1.0, 1.0, 1.0], 128**3) == [48, 48, 48]


def test_canonical_spacing_follows_orientation() -> None:
    assert canonical_spacing((3.0, 1.0, 0.5), "LPS") == (3.0, 1.0, 0.5)
    assert canonical_spacing((3.0, 1.0, 0.5), "SPL") == (0.5, 1.0, 3.0)  # itk x is S -> becomes array z
    assert canonical_spacing((3.0, 1.0, 0.5), "RAI") == (3.0, 1.0, 0.5)


def test_preprocess_roundtrip_restores_source_geometry(tmp_path: Path) -> None:
    cat = toy_dataset(tmp_path, n=1, spacing=(2.0, 0.9, 1.1), direction=OBLIQUE, splits=("train",))
    row = json.loads(json.dumps({"image": str(tmp_path / "case0.nii.gz"), "label": str(tmp_path / "case0_seg.nii.gz")}))
    plan = Preprocessing.model_validate({"orientation": "LPS", "target_spacing": [1.0, 1.0, 1.0], "crop": "body",
                                         "normalization": {"mask": "body", "clip_percentiles": [0.5, 99.5]}})
    pre = preprocess_image(read_sitk(row["image"]), plan, read_sitk(row["label"]), row["label"])
    assert pre.meta["source_orientation"] != "LPS"
    prep = ImageProperties.from_dict(pre.meta["preprocessed"])
    assert prep.orientation == "LPS" and prep.spacing == (1.0, 1.0, 1.0)
    body = pre.image[pre.image > -1]
    assert abs(float(body.mean())) < 1.0  # z-scored
    lab, src = read_image(row["label"])
    back = to_source_grid(pre.label, prep, src, is_label=True)
    assert back.shape == lab.shape
    assert dice(back, lab, empty=1.0) > 0.9
    assert cat.is_file()


def test_cache_is_resumable(tmp_path: Path) -> None:
    cat = toy_dataset(tmp_path / "data", n=4, splits=("train", "train", "val", "test"))
    plan = preprocess(cat, tmp_path / "plan", ["A:T1", "B:T1"], progress=False)
    assert plan["summary"] == {"done": 4}
    assert plan["cases"]["train"] == ["case0", "case1"] and plan["train_domains"] == ["A:T1", "B:T1"]
    cache = tmp_path / "plan" / "cache"
    assert np.load(cache / "case0.npy", mmap_mode="r").dtype == np.float32
    assert set(np.unique(np.load(cache / "case0_seg.npy"))) == {0, 1}
    assert (np.load(cache / "case0_fg.npy") >= 0).all()
    again = preprocess(cat, tmp_path / "plan", ["A:T1", "B:T1"], progress=False)
    assert again["summary"] == {"cached": 4}
    img = tmp_path / "data" / "case1.nii.gz"
    os.utime(img, (img.stat().st_atime, img.stat().st_mtime + 10))  # a changed source is redone
    third = preprocess(cat, tmp_path / "plan", ["A:T1", "B:T1"], progress=False)
    assert third["summary"] == {"cached": 3, "done": 1}
    forced = preprocess(cat, tmp_path / "plan", ["A:T1", "B:T1"], spacing=[1.0, 1.0, 1.0], progress=False)
    assert forced["summary"] == {"done": 4}  # a new plan hash invalidates the cache
