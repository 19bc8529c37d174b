"""Body masks of the preprocessing: ``noise-floor`` (default) against ``otsu`` on a stress-like and a default-like
T2 phantom (issue #17: the Otsu mask of a fat-saturated, strongly biased HASTE keeps little but the fluid)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from crosspan.preprocess.normalize import bbox, body_mask
from crosspan.preprocess.plan import Plan, plan_hash
from crosspan.preprocess.run import preprocess
from toy_scans import toy_dataset

SHAPE = (24, 48, 48)


def phantom(fat: float, bias_min: float, tissue: float = 0.3,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image, body, pancreas) of a (z, y, x) abdomen: a fat ring around soft tissue, two bright fluid blobs, a
    darker pancreas, a receive bias falling along x to ``bias_min``, Rician (magnitude) noise."""
    z, y, x = np.meshgrid(*[np.arange(s, dtype=np.float32) for s in SHAPE], indexing="ij")
    r = np.hypot((y - 24) / 20, (x - 24) / 21)
    body = r < 1  # an abdomen fills every slice of its scan
    img = np.where(body, fat, 0.0).astype(np.float32)
    inner = body & (r < 0.8)
    img[inner] = tissue
    for cy, cx, rad in ((16, 14, 7), (30, 34, 6)):
        img[inner & (np.hypot(y - cy, x - cx) < rad)] = 1.0
    pancreas = inner & (np.abs(y - 30) < 3) & (np.abs(x - 18) < 7) & (np.abs(z - 12) < 5)
    img[pancreas] = tissue / 2
    img *= 1.0 - (1.0 - bias_min) * x / (SHAPE[2] - 1)
    g = np.random.default_rng(seed)
    sigma = 0.01
    noisy = np.hypot(img + g.normal(0, sigma, SHAPE), g.normal(0, sigma, SHAPE))
    return (1000 * noisy).astype(np.float32), body, pancreas


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2 * float((a & b).sum()) / max(float(a.sum() + b.sum()), 1.0)


def test_noise_floor_keeps_a_fat_saturated_biased_body_otsu_does_not() -> None:
    img, body, pancreas = phantom(fat=0.06, bias_min=0.3, tissue=0.2)
    old, new = body_mask(img, "otsu"), body_mask(img, "noise-floor")
    assert old[pancreas].mean() < 0.5  # the old mask is (mostly) the bright fluid
    assert new[pancreas].mean() > 0.99
    assert new[body].mean() > 0.9  # the fat-saturated fat at the darkest (bias 0.3) edge is at the noise floor
    assert not new[~ndimage.binary_dilation(body, iterations=3)].any()  # no air beyond the blurred edge
    crop = np.zeros(SHAPE, bool)
    crop[tuple(slice(a, b) for a, b in bbox(new))] = True
    assert crop[pancreas].all()


def test_masks_agree_on_a_default_like_scan() -> None:
    img, body, _ = phantom(fat=0.8, bias_min=0.8)
    old, new = body_mask(img, "otsu"), body_mask(img, "noise-floor")
    assert dice(old, body) > 0.95
    assert dice(old, new) > 0.9  # both hold the whole body; noise-floor's edge lies ~2 voxels further out
    assert new[body].all() and not new[~ndimage.binary_dilation(body, iterations=3)].any()


def test_noise_floor_fills_holes_per_slice() -> None:
    img, body, _ = phantom(fat=0.8, bias_min=0.8)
    img[:, 20:28, 45:] = img[0, 0, 0]  # a dark channel from the body's inside to the air: no 3D hole
    img[:, 20:28, 24:45] = img[0, 0, 0]
    new = body_mask(img, "noise-floor")
    assert new[10, 22:26, 30:40].mean() < 0.5  # open to the air in its slice: not a hole, stays out
    img2, _, _ = phantom(fat=0.8, bias_min=0.8)
    img2[2:22, 20:28, 20:28] = img2[0, 0, 0]  # a dark gas pocket closed in every slice but open at both ends in z
    assert body_mask(img2, "noise-floor")[10, 20:28, 20:28].all()


def test_unknown_body_mask_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown body mask"):
        body_mask(np.zeros(SHAPE, np.float32), "bogus")


def test_plan_records_the_body_mask_and_old_plans_load_as_otsu(tmp_path: Path) -> None:
    from tests.preprocess.test_plan_document import PLAN, _file

    old = Plan.load(_file(tmp_path, PLAN))
    assert old.body_mask is None and old.mask_method == "otsu"
    floor = old.model_copy(update={"body_mask": "noise-floor"})
    assert plan_hash(old.model_copy(update={"body_mask": "otsu"})) == plan_hash(old) != plan_hash(floor)
    cat = toy_dataset(tmp_path / "data", n=3, shape=(16, 24, 24))
    doc = preprocess(cat, tmp_path / "plan", ["A:T1", "B:T1"], progress=False, body_mask="noise-floor")
    assert doc["body_mask"] == "noise-floor" and Plan.load(tmp_path / "plan").mask_method == "noise-floor"
    assert preprocess(cat, tmp_path / "plan_d", ["A:T1", "B:T1"], progress=False)["body_mask"] == "noise-floor"
    doc = preprocess(cat, tmp_path / "plan_o", ["A:T1", "B:T1"], progress=False, body_mask="otsu")
    otsu = Plan.load(tmp_path / "plan_o")
    assert doc["body_mask"] == "otsu" and plan_hash(otsu) == plan_hash(otsu.model_copy(update={"body_mask": None}))


def test_cli_rejects_an_unknown_body_mask(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from crosspan.cli.main import app

    cat = toy_dataset(tmp_path / "data", n=3, shape=(16, 24, 24))
    res = CliRunner().invoke(app, ["preprocess", str(cat), "-o", str(tmp_path / "plan"), "--body-mask", "bogus"])
    assert res.exit_code != 0 and "unknown body mask 'bogus'" in res.output and "noise-floor" in res.output
    assert not (tmp_path / "plan").exists()
