"""Each of the five layouts is detected and catalogued with the right identity columns."""

from __future__ import annotations

from pathlib import Path

import pytest

import data_builders as db
from crosspan.core.errors import CrosspanError
from crosspan.data.catalog import COLUMNS, build_catalog, catalog_from, load_catalog, save_catalog
from crosspan.data.layouts import detect_layout, scan_dataset


def _cat(path: Path):
    df, problems = build_catalog(path, workers=1, progress=False)
    assert list(df.columns) == COLUMNS
    return df, problems


def test_crosspan_release(tmp_path: Path) -> None:
    root = db.crosspan_release(tmp_path / "cp", per_center=4)
    assert detect_layout(root).name == "crosspan"
    df, problems = _cat(root)
    assert not problems
    assert len(df) == 3 * 4 * 3
    row = df.set_index("case_id").loc["B_0002_T2"]
    assert (row["center"], row["sequence"], row["split"]) == ("B", "T2", "val")
    # same case name across sequences groups into one patient
    assert df.groupby("patient_id")["sequence"].nunique().eq(3).all()
    assert row["shape_z"] == 8 and row["spacing_z"] == 3.0 and row["orientation"] == "LPS"
    assert row["label_voxels"] == 4 * 8 * 8 and row["label_components"] == 1
    assert row["label_ml"] == pytest.approx(256 * 3.0 * 1.5 * 1.5 / 1000, rel=1e-3)
    assert row["p0_5"] < row["p50"] < row["p99_5"]


def test_crosspan_release_manifest_sidecar_sets_patient_and_center(tmp_path: Path) -> None:
    root = db.crosspan_release(tmp_path / "cp", centers=("A",), per_center=2, manifest=True)
    df, _ = _cat(root)
    assert set(df["patient_id"]) == {"PA0", "PA1"}


def test_release_without_center_prefix_is_unknown(tmp_path: Path) -> None:
    db.write_pair(tmp_path / "T1" / "train" / "images" / "0001_0000.nii.gz",
                  tmp_path / "T1" / "train" / "labels" / "0001.nii.gz", 1)
    _, entries = scan_dataset(tmp_path)
    assert entries[0].center == "unknown"


def test_pansegdata_pairs_t1_t2_through_name_mapping(tmp_path: Path) -> None:
    root = db.pansegdata(tmp_path / "psd")
    assert detect_layout(root).name == "pansegdata"
    df, _ = _cat(root)
    assert len(df) == 6
    pid = df.set_index("case_id")["patient_id"]
    # T1 NYU_0001 (pat7) pairs with T2 NYU_0002 (pat7), not with T2 NYU_0001
    assert pid["NYU_0001_T1"] == pid["NYU_0002_T2"]
    assert pid["NYU_0001_T1"] != pid["NYU_0001_T2"]
    assert pid["MCF_0001_T1"] == pid["MCF_0001_T2"]
    assert set(df["center"]) == {"NYU", "MCF"}


def test_nnunet_raw_with_sidecar(tmp_path: Path) -> None:
    d = db.nnunet_raw(tmp_path)
    assert detect_layout(d).name == "nnunet"
    df, _ = _cat(d)
    by = df.set_index("case_id")
    assert by.loc["X_0001", "sequence"] == "OOP" and by.loc["X_0001", "patient_id"] == "px1"
    assert by.loc["X_0002", "sequence"] == "T2" and by.loc["Y_0001", "center"] == "Y"
    assert by.loc["Y_0002", "split"] == "test" and by.loc["Y_0002", "label"] == ""


def test_nnunetdg(tmp_path: Path) -> None:
    root = db.nnunetdg(tmp_path / "dg")
    assert detect_layout(root).name == "nnunetdg"
    df, _ = _cat(root)
    by = df.set_index("case_id")
    assert by.loc["SiteA_case1_OOP", "sequence"] == "OOP"
    assert by.loc["SiteA_case1_OOP", "patient_id"] == by.loc["SiteA_case1_T1", "patient_id"]
    assert set(df["center"]) == {"SiteA", "SiteB", "SiteC"}


def test_manifest_and_catalog_round_trip(tmp_path: Path) -> None:
    path = db.manifest(tmp_path / "m")
    assert detect_layout(path).name == "manifest"
    df, _ = _cat(path)
    out = tmp_path / "catalog.csv"
    save_catalog(df, out)
    back = load_catalog(out)
    assert list(back["case_id"]) == list(df["case_id"])
    assert catalog_from(out)["center"].tolist() == df["center"].tolist()


def test_unknown_folder_names_the_fix(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(CrosspanError, match="--layout"):
        detect_layout(tmp_path / "empty")
