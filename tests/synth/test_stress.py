"""The stress profile (issue #17): test-only centers and anatomies outside the default ranges."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import SimpleITK as sitk
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.core.seeding import rng
from crosspan.data.io import ImageProperties, apply_properties
from crosspan.synth.anatomy import rasterize, sample_anatomy
from crosspan.synth.profiles import load_profile, store, vary_anatomy
from crosspan.synth.scanner import load_centers


def test_stress_centers_lie_outside_the_default_presets_on_every_axis() -> None:
    stress, default = load_profile("stress").centers, load_centers()
    seqs = [(c, s) for c in stress.values() for s in ("T1", "T2", "OOP")]
    inplane = [c["sequences"][s]["spacing"][2] for c, s in seqs]
    slices = [c["sequences"][s]["spacing"][0] for c, s in seqs]
    assert min(inplane) <= 0.75 and max(inplane) >= 2.0 and min(slices) <= 2.0 and max(slices) >= 8.0
    assert {c["field"] for c in stress.values()} == {1.5, 3.0}
    assert {"fatsat" in c["sequences"]["T1"] for c in stress.values()} == {True, False}
    assert {"fatsat" in c["sequences"]["T2"] for c in stress.values()} == {True, False}
    for c in stress.values():  # OOP at the opposed-phase TE of the center's field
        assert c["sequences"]["OOP"]["TE"] == (2.3 if c["field"] == 1.5 else 1.15)
    assert {c["dtype"] for c in stress.values()} == {"int16", "uint16", "float32"}
    assert {c["affine"] for c in stress.values()} == {"RAS", "LPS"}
    assert max(c["fov"][2] for c in stress.values()) > 1.3 * max(c["fov"][2] for c in default.values())
    assert max(c["bias"] for c in stress.values()) > max(c["bias"] for c in default.values())
    assert max(c["b1"] for c in stress.values()) > max(c["b1"] for c in default.values())


def test_profile_anatomy_changes_the_body_and_leaves_the_default_draws_alone() -> None:
    settings = load_profile("stress").anatomy
    base = sample_anatomy(rng(0, "anatomy", "X"))
    assert vary_anatomy(base, {}, rng(1)) is base
    scales = [vary_anatomy(base, settings, rng(1, i))["body_scale"] for i in range(200)]
    lo, hi = settings["body_scale"]
    assert lo <= min(scales) < 0.9 and 1.3 < max(scales) <= hi
    z = np.linspace(-60, 60, 13)
    y, x = np.linspace(-200, 200, 81), np.linspace(-260, 260, 105)
    small = rasterize({**base, "body_scale": 0.8}, z, y, x)
    large = rasterize({**base, "body_scale": 1.4}, z, y, x)
    assert np.array_equal(rasterize({**base, "body_scale": 1.0}, z, y, x), rasterize(base, z, y, x))
    assert (large > 0).sum() > 2.0 * (small > 0).sum()  # a bigger body cross-section


def test_ras_storage_keeps_every_voxel_in_place() -> None:
    arr = np.random.default_rng(0).random((4, 5, 6)).astype(np.float32) * 1000
    props = ImageProperties((4, 5, 6), (3.0, 1.5, 1.2), (-10.0, -20.0, -30.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    lab = (arr > 500).astype(np.uint8)
    img2, lab2, _, props2 = store(arr, lab, lab, props, {"dtype": "int16", "affine": "RAS"})
    assert img2.dtype == np.int16 and props2.sitk_direction()[0] == -1.0
    back = sitk.DICOMOrient(apply_properties(sitk.GetImageFromArray(img2), props2), "LPS")
    assert np.array_equal(sitk.GetArrayFromImage(back), np.rint(arr).astype(np.int16))
    assert np.allclose(back.GetOrigin(), (-30.0, -20.0, -10.0))
    assert np.array_equal(lab2[:, ::-1, ::-1], lab)


def test_synth_cohort_profile_stress_writes_the_stress_suite(tmp_path) -> None:
    out = tmp_path / "stress"
    res = CliRunner().invoke(app, ["synth", "cohort", str(out), "--profile", "stress", "-n", "4", "--shape",
                                   "small", "--workers", "1", "--seed", "3"])
    assert res.exit_code == 0, res.output
    m = pd.read_csv(out / "manifest.csv")
    assert sorted(m["center"].unique()) == ["S1", "S2", "S3", "S4"]
    centers = load_profile("stress").centers
    for _, row in m.iterrows():
        img = sitk.ReadImage(str(out / row["image"]))
        want = {"int16": sitk.sitkInt16, "uint16": sitk.sitkUInt16, "float32": sitk.sitkFloat32}
        assert img.GetPixelID() == want[centers[row["center"]]["dtype"]]
        assert (img.GetDirection()[0] < 0) == (centers[row["center"]]["affine"] == "RAS")
        assert sitk.GetArrayViewFromImage(sitk.ReadImage(str(out / row["label"]))).sum() > 0
    recs = [json.loads(line) for line in (out / "parameters.jsonl").read_text().splitlines()]
    assert all(0.8 <= r["anatomy"]["body_scale"] <= 1.4 for r in recs)
