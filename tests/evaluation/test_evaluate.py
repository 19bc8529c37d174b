"""`crosspan evaluate`: values against compute_metrics, matching, bad inputs (clear message, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage
from typer.testing import CliRunner

import data_builders as db
from crosspan.cli.main import app
from crosspan.data.catalog import build_catalog, save_catalog
from crosspan.data.io import ImageProperties, read_image, write_image
from crosspan.evaluation.evaluate import COLUMNS, EvaluationErrors, evaluate_predictions
from crosspan.evaluation.metrics import compute_metrics

runner = CliRunner()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("ds")
    db.crosspan_release(root, centers=("A", "B"), sequences=("T1", "T2"), per_center=4)
    cat, _ = build_catalog(root, progress=False, workers=1)
    save_catalog(cat, root / "catalog.csv")
    return root, cat


def predict(label: np.ndarray, i: int) -> np.ndarray:
    """A prediction derived from the label: shifted, eroded or dilated."""
    m = label > 0
    return [np.roll(m, 1, axis=2), ndimage.binary_erosion(m), ndimage.binary_dilation(m), m][i % 4]


def write_predictions(cat: pd.DataFrame, out: Path, name: str = "case_id") -> dict[str, np.ndarray]:
    preds = {}
    for i, r in enumerate(cat[cat["split"] == "test"].itertuples()):
        lbl, props = read_image(r.label)
        preds[r.case_id] = predict(lbl, i)
        fname = r.case_id if name == "case_id" else Path(r.label).name.replace(".nii.gz", "")
        sub = out if name == "case_id" else out / r.sequence
        write_image(preds[r.case_id].astype(np.uint8), props, sub / f"{fname}.nii.gz")
    return preds


def test_values_equal_compute_metrics_and_transfer(dataset: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    root, cat = dataset
    preds = write_predictions(cat, tmp_path / "pred")
    df = evaluate_predictions(cat, tmp_path / "pred", "toy", seed=3, train_domains=["A:T1"], workers=1,
                              progress=False)
    assert list(df.columns) == COLUMNS and len(df) == 4
    for r in df.itertuples():
        lbl, props = read_image(cat.set_index("case_id").loc[r.case_id, "label"])
        ref = compute_metrics(preds[r.case_id], lbl > 0, props.spacing)
        for k in ("dice", "iou", "hd95", "assd", "nsd", "rve", "pred_voxels"):
            assert getattr(r, k) == pytest.approx(ref[k], abs=1e-12), k
        expected = {("A", "T1"): "in-domain", ("B", "T1"): "cross-center", ("A", "T2"): "cross-sequence",
                    ("B", "T2"): "cross-both"}[(r.center, r.sequence)]
        assert r.transfer == expected and r.train_domains == "A:T1" and r.seed == 3 and not r.pred_missing
    assert df["dice"].min() < 1.0 and (df["dice"] == 1.0).any()  # shifted/eroded differ, the copy is perfect


def test_cli_writes_table_nnunet_names_in_sequence_folders(dataset: tuple[Path, pd.DataFrame],
                                                           tmp_path: Path) -> None:
    root, cat = dataset
    write_predictions(cat, tmp_path / "pred", name="label")  # pred/T1/A_0003.nii.gz: same name in T1 and T2
    out = tmp_path / "res.csv"
    res = runner.invoke(app, ["evaluate", str(root / "catalog.csv"), "--pred", str(tmp_path / "pred"), "--method",
                              "m", "--train-domains", "A:T1,B:T1", "--workers", "1", "--oracle", "-o", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    assert len(df) == 4 and df["oracle"].all() and set(df["transfer"]) == {"in-domain", "cross-sequence"}
    direct = evaluate_predictions(cat, tmp_path / "pred", "m", workers=1, progress=False)
    np.testing.assert_allclose(df.sort_values("case_id")["dice"], direct.sort_values("case_id")["dice"])


def test_splits_give_test_cases_and_domains(dataset: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    root, cat = dataset
    write_predictions(cat, tmp_path / "pred")
    test = [c for c in cat.loc[cat["split"] == "test", "case_id"] if c.endswith("_T2")]
    splits = {"protocol": "cross-sequence", "seed": 0, "splits": [
        {"name": "fold0", "train": [], "val": [], "test": test, "train_domains": ["A:T1", "B:T1"]}]}
    (tmp_path / "s.json").write_text(json.dumps(splits))
    df = evaluate_predictions(cat, tmp_path / "pred", "m", splits=tmp_path / "s.json", workers=1, progress=False)
    assert sorted(df["case_id"]) == sorted(test) and set(df["transfer"]) == {"cross-sequence"}


def run_cli(root: Path, pred: Path, out: Path, *extra: str) -> tuple[int, str]:
    res = runner.invoke(app, ["evaluate", str(root / "catalog.csv"), "--pred", str(pred), "--method", "m",
                              "--workers", "1", "-o", str(out), *extra])
    return res.exit_code, " ".join(res.output.split())


def test_bad_predictions_clear_errors_nothing_written(dataset: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    root, cat = dataset
    pred = tmp_path / "pred"
    write_predictions(cat, pred)
    test_ids = sorted(cat.loc[cat["split"] == "test", "case_id"])
    # 1: wrong shape, 2: non-binary, 3: missing
    arr, props = read_image(pred / f"{test_ids[0]}.nii.gz")
    small = ImageProperties((props.shape[0] - 2, *props.shape[1:]), props.spacing, props.origin, props.direction)
    write_image(arr[:-2], small, pred / f"{test_ids[0]}.nii.gz")
    arr, props = read_image(pred / f"{test_ids[1]}.nii.gz")
    write_image(arr.astype(np.uint8) * 2, props, pred / f"{test_ids[1]}.nii.gz")
    (pred / f"{test_ids[2]}.nii.gz").unlink()
    out = tmp_path / "res.csv"
    code, text = run_cli(root, pred, out)
    assert code != 0 and not out.exists()
    assert f"{test_ids[0]}.nii.gz" in text and "shape" in text and "--resample-pred" in text
    assert f"{test_ids[1]}.nii.gz" in text and "not binary" in text and "threshold" in text
    assert "no prediction for 1 case(s)" in text and test_ids[2] in text and "--allow-missing" in text
    with pytest.raises(EvaluationErrors) as err:
        evaluate_predictions(cat, pred, "m", workers=1, progress=False, allow_missing=True)
    assert len(err.value.problems) == 2  # the missing case is now allowed


def test_allow_missing_scores_empty_and_flags(dataset: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    root, cat = dataset
    pred = tmp_path / "pred"
    write_predictions(cat, pred)
    victim = sorted(cat.loc[cat["split"] == "test", "case_id"])[0]
    (pred / f"{victim}.nii.gz").unlink()
    code, text = run_cli(root, pred, tmp_path / "res.csv", "--allow-missing")
    assert code == 0, text
    df = pd.read_csv(tmp_path / "res.csv").set_index("case_id")
    assert df.loc[victim, "pred_missing"] and df.loc[victim, "pred_empty"] and df.loc[victim, "dice"] == 0.0
    assert df["pred_missing"].sum() == 1


def test_resample_pred_fixes_geometry(dataset: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    root, cat = dataset
    pred = tmp_path / "pred"
    preds = write_predictions(cat, pred)
    cid = sorted(preds)[0]
    _, props = read_image(pred / f"{cid}.nii.gz")
    # the same mask on a grid twice as fine in x (and a different shape): resampling must recover it exactly
    fine = np.repeat(preds[cid], 2, axis=2).astype(np.uint8)
    sx = props.spacing[2]
    fprops = ImageProperties(fine.shape, (*props.spacing[:2], sx / 2), (*props.origin[:2], props.origin[2] - sx / 4),
                             props.direction)
    write_image(fine, fprops, pred / f"{cid}.nii.gz")
    code, text = run_cli(root, pred, tmp_path / "bad.csv")
    assert code != 0 and "geometry differs" in text and not (tmp_path / "bad.csv").exists()
    code, text = run_cli(root, pred, tmp_path / "ok.csv", "--resample-pred")
    assert code == 0, text
    df = pd.read_csv(tmp_path / "ok.csv").set_index("case_id")
    lbl, lprops = read_image(cat.set_index("case_id").loc[cid, "label"])
    assert df.loc[cid, "dice"] == pytest.approx(compute_metrics(preds[cid], lbl > 0, lprops.spacing)["dice"])


def test_help_and_no_test_split(dataset: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    res = runner.invoke(app, ["evaluate", "--help"])
    assert res.exit_code == 0 and "--resample-pred" in res.output
    root, cat = dataset
    cat2 = cat.assign(split="train")
    with pytest.raises(Exception, match="no test cases"):
        evaluate_predictions(cat2, tmp_path, "m", progress=False)


def test_label_named_predictions_never_cross_sequences(dataset: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    root, cat = dataset
    pred = tmp_path / "pred"
    write_predictions(cat, pred, name="label")  # pred/T1/A_0003.nii.gz, pred/T2/A_0003.nii.gz, ...
    for f in (pred / "T2").iterdir():
        f.unlink()
    with pytest.raises(EvaluationErrors) as err:  # T2 cases must not take the T1 file of the same name
        evaluate_predictions(cat, pred, "m", workers=1, progress=False)
    text = " ".join(p.problem for p in err.value.problems)
    assert "no prediction for 2 case(s)" in text and "A_0003_T2" in text and "B_0003_T2" in text
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in (pred / "T1").iterdir():
        f.rename(flat / f.name)
    with pytest.raises(EvaluationErrors) as err:  # a flat folder: one file would serve both sequences
        evaluate_predictions(cat, flat, "m", workers=1, progress=False)
    assert any("matches several cases" in p.problem and "A_0003_T1" in p.problem for p in err.value.problems)


def test_data_option_and_all_cases(dataset: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    root, cat = dataset
    pred = tmp_path / "pred"
    for r in cat.itertuples():  # perfect predictions for every labelled case
        lbl, props = read_image(r.label)
        write_image(lbl, props, pred / f"{r.case_id}.nii.gz")
    out = tmp_path / "all.csv"
    res = runner.invoke(app, ["evaluate", "--data", str(root), "--pred", str(pred), "--method", "copy", "--cases",
                              "all", "--workers", "1", "-o", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    assert len(df) == len(cat) and (df["dice"] == 1.0).all() and (df["hd95"] == 0.0).all()
    assert (df["transfer"] == "unknown").all()  # no training domains given
    res = runner.invoke(app, ["evaluate", str(root), "--data", str(root), "--pred", str(pred), "--method", "x"])
    assert res.exit_code != 0 and "once" in res.output
