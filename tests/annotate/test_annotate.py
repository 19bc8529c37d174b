"""Annotation protocol: blinded balanced assignment, agreement values, adjudication list, STAPLE consensus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage
from typer.testing import CliRunner

import data_builders as db
from crosspan.annotate.compare import cohen_kappa
from crosspan.annotate.consensus import build_consensus
from crosspan.cli.main import app
from crosspan.data.catalog import build_catalog
from crosspan.data.io import ImageProperties, read_image, write_image
from crosspan.evaluation.metrics import compute_metrics

runner = CliRunner()
P = ImageProperties(shape=(24, 32, 32), spacing=(2.0, 1.0, 1.0), origin=(0, 0, 0),
                    direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))


def truth() -> np.ndarray:
    zz, yy, xx = np.mgrid[:24, :32, :32]
    return (((zz - 12) * 2.0) ** 2 / 14**2 + (yy - 16) ** 2 / 9**2 + (xx - 16) ** 2 / 7**2) <= 1


def annotator(gt: np.ndarray, seed: int, flip: float = 0.35) -> np.ndarray:
    """A perturbed copy: random flips of boundary voxels (independent per annotator)."""
    r = np.random.default_rng(seed)
    boundary = ndimage.binary_dilation(gt) & ~ndimage.binary_erosion(gt)
    out = gt.copy()
    flips = boundary & (r.random(gt.shape) < flip)
    out[flips] = ~out[flips]
    return out


def test_assign_is_balanced_blinded_and_two_per_case(tmp_path: Path) -> None:
    root = db.crosspan_release(tmp_path / "ds", centers=("A", "B"), sequences=("T1", "T2"), per_center=3)
    cat, _ = build_catalog(root, workers=1, progress=False)
    cat_path = tmp_path / "cat.csv"
    cat.to_csv(cat_path, index=False)
    out = tmp_path / "assign"
    r = runner.invoke(app, ["annotate", "assign", str(cat_path), "--annotators", "ann1,ann2,ann3", "-o", str(out)])
    assert r.exit_code == 0, r.output
    key = pd.read_csv(out / "key.csv")
    assert len(key) == 12 and (key["annotator_1"] != key["annotator_2"]).all()
    loads = [len(pd.read_csv(out / a / "worklist.csv")) for a in ("ann1", "ann2", "ann3")]
    assert sum(loads) == 24 and max(loads) - min(loads) <= 2
    for a in ("ann1", "ann2", "ann3"):
        wl = pd.read_csv(out / a / "worklist.csv")
        names = " ".join(wl["image"]) + " ".join(p.name for p in (out / a / "images").iterdir())
        for case in key["case_id"]:
            assert case not in names and case.split("_")[0] + "_" not in names
    orders = [list(pd.read_csv(out / a / "worklist.csv")["code"]) for a in ("ann1", "ann2")]
    shared = [c for c in orders[0] if c in orders[1]]
    assert [c for c in orders[1] if c in shared] != shared or len(shared) <= 1


def test_kappa_hand_values() -> None:
    a = np.array([1, 1, 0, 0], bool)
    assert cohen_kappa(a, a) == 1.0
    assert cohen_kappa(a, ~a) == pytest.approx(-1.0)
    b = np.array([1, 0, 0, 0], bool)  # po = 0.75, pe = 0.5*0.25 + 0.5*0.75 = 0.5
    assert cohen_kappa(a, b) == pytest.approx(0.5)


def test_compare_values_and_adjudication_list(tmp_path: Path) -> None:
    gt = truth()
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    write_image(gt.astype(np.uint8), P, a_dir / "c1.nii.gz")
    write_image(gt.astype(np.uint8), P, b_dir / "c1.nii.gz")
    shifted = np.roll(gt, 8, axis=2)
    write_image(gt.astype(np.uint8), P, a_dir / "c2.nii.gz")
    write_image(shifted.astype(np.uint8), P, b_dir / "c2.nii.gz")
    out = tmp_path / "agree.csv"
    r = runner.invoke(app, ["annotate", "compare", str(a_dir), str(b_dir), "-o", str(out)])
    assert r.exit_code == 0, r.output
    t = pd.read_csv(out).set_index("code")
    assert t.loc["c1", "dice"] == 1.0 and t.loc["c1", "kappa"] == 1.0 and not t.loc["c1", "adjudicate"]
    m = compute_metrics(shifted, gt, P.spacing)
    assert t.loc["c2", "dice"] == pytest.approx(m["dice"]) and t.loc["c2", "hd95"] == pytest.approx(m["hd95"])
    assert t.loc["c2", "adjudicate"]
    assert "1 of 2 case(s) need adjudication: c2" in " ".join(r.output.split())


def test_staple_is_closer_to_truth_than_each_annotator(tmp_path: Path) -> None:
    gt = truth()
    dirs = []
    dices = []
    for k in range(3):
        m = annotator(gt, seed=k)
        d = tmp_path / f"ann{k}"
        write_image(m.astype(np.uint8), P, d / "c1.nii.gz")
        dirs.append(d)
        dices.append(compute_metrics(m, gt, P.spacing)["dice"])
    build_consensus(dirs, tmp_path / "cons", method="staple")
    final, _ = read_image(tmp_path / "cons" / "masks" / "c1.nii.gz")
    conf, _ = read_image(tmp_path / "cons" / "confidence" / "c1.nii.gz")
    fused = compute_metrics(final > 0, gt, P.spacing)["dice"]
    assert fused > max(dices)
    assert 0.0 <= conf.min() and conf.max() <= 1.0 and conf[gt].mean() > conf[~gt].mean()


def test_adjudicated_mask_wins(tmp_path: Path) -> None:
    gt = truth()
    dirs = []
    for k in range(2):
        d = tmp_path / f"ann{k}"
        write_image(annotator(gt, seed=k).astype(np.uint8), P, d / "c1.nii.gz")
        dirs.append(d)
    write_image(gt.astype(np.uint8), P, tmp_path / "adj" / "c1.nii.gz")
    r = runner.invoke(app, ["annotate", "consensus", str(dirs[0]), str(dirs[1]), "--method", "majority",
                            "--adjudicated", str(tmp_path / "adj"), "-o", str(tmp_path / "cons")])
    assert r.exit_code == 0, r.output
    final, _ = read_image(tmp_path / "cons" / "masks" / "c1.nii.gz")
    np.testing.assert_array_equal(final > 0, gt)


def test_report_agreement_section(tmp_path: Path) -> None:
    from example_results import example_results

    results = tmp_path / "results.csv"
    example_results(patients_per_center=3, seeds=1).to_csv(results, index=False)
    agreement = pd.DataFrame({"code": ["c1", "c2"], "case_id": ["A_0001_T1", "B_0002_T2"], "center": ["A", "B"],
                              "sequence": ["T1", "T2"], "dice": [0.95, 0.41], "hd95": [1.2, 23.0],
                              "nsd": [0.97, 0.30], "kappa": [0.94, 0.38], "adjudicate": [False, True]})
    agreement.to_csv(tmp_path / "agreement.csv", index=False)
    out = tmp_path / "report.html"
    r = runner.invoke(app, ["report", str(results), "-o", str(out), "--agreement", str(tmp_path / "agreement.csv"),
                            "--n-boot", "50"])
    assert r.exit_code == 0, r.output
    page = out.read_text()
    assert 'id="agreement"' in page and "B_0002_T2" in page and "A_0001_T1" not in page.split('id="agreement"')[1]
    assert "Cases to adjudicate" in out.with_suffix(".md").read_text()
    bad = runner.invoke(app, ["report", str(results), "-o", str(tmp_path / "r2.html"), "--agreement",
                              str(results)])
    assert bad.exit_code == 2 and "not an agreement table" in bad.output
    assert not (tmp_path / "r2.html").exists()
