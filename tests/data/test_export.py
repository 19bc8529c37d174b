"""nnU-Net export: valid dataset.json, nnU-Net file naming, readable back with the same identities."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

import data_builders as db
from crosspan.cli.main import app
from crosspan.data.catalog import build_catalog, save_catalog
from crosspan.data.layouts import detect_layout


def test_export_nnunet_round_trip(tmp_path: Path) -> None:
    root = db.crosspan_release(tmp_path / "ds", centers=("A", "B"), sequences=("T1", "T2"), per_center=4)
    cat, _ = build_catalog(root, workers=1, progress=False)
    cat_path = tmp_path / "catalog.csv"
    save_catalog(cat, cat_path)
    runner = CliRunner()
    splits = tmp_path / "splits.json"
    r = runner.invoke(app, ["data", "splits", str(cat_path), "-p", "official", "--train", "A:T1,B:T1", "-o",
                            str(splits)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["export", "nnunet", str(cat_path), "--splits", str(splits), "-o", str(tmp_path / "raw"),
                            "--id", "7", "--name", "Synth"])
    assert r.exit_code == 0, r.output
    d = tmp_path / "raw" / "Dataset007_Synth"
    ds = json.loads((d / "dataset.json").read_text())
    doc = json.loads(splits.read_text())["splits"][0]
    assert ds["labels"] == {"background": 0, "pancreas": 1} and ds["file_ending"] == ".nii.gz"
    assert ds["numTraining"] == len(doc["train"]) + len(doc["val"]) == len(list((d / "labelsTr").iterdir()))
    assert ds["channel_names"] == {"0": "T1"}
    assert sorted(p.name for p in (d / "imagesTr").iterdir()) == sorted(
        f"{c}_0000.nii.gz" for c in doc["train"] + doc["val"])
    assert json.loads((d / "splits_final.json").read_text()) == [{"train": doc["train"], "val": doc["val"]}]
    assert detect_layout(d).name == "nnunet"
    back, problems = build_catalog(d, workers=1, progress=False)
    assert not [p for p in problems if p.level == "error"]
    orig = cat.set_index("case_id")
    for row in back.itertuples():
        assert (row.center, row.sequence, row.patient_id) == tuple(orig.loc[row.case_id, ["center", "sequence",
                                                                                        "patient_id"]])


def test_export_refuses_unknown_split(tmp_path: Path) -> None:
    root = db.crosspan_release(tmp_path / "ds", centers=("A",), sequences=("T1",), per_center=4)
    splits = tmp_path / "s.json"
    CliRunner().invoke(app, ["data", "splits", str(root), "-p", "official", "--train", "A:T1", "-o", str(splits)])
    r = CliRunner().invoke(app, ["export", "nnunet", str(root), "--splits", str(splits), "-o", str(tmp_path / "raw"),
                                 "--split", "nope"])
    assert r.exit_code == 2 and "split 'nope'" in r.output
    assert not (tmp_path / "raw").exists() or not any((tmp_path / "raw").iterdir())
