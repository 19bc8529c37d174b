"""The data commands end to end: catalog, summary, layouts."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

import data_builders as db
from crosspan.cli.main import app

runner = CliRunner()


def test_catalog_and_summary_commands(tmp_path: Path) -> None:
    root = db.crosspan_release(tmp_path / "ds", centers=("A", "B"), sequences=("T1", "OOP"), per_center=4)
    cat = tmp_path / "catalog.csv"
    r = runner.invoke(app, ["data", "catalog", str(root), "-o", str(cat), "--workers", "2"])
    assert r.exit_code == 0, r.output
    df = pd.read_csv(cat)
    assert len(df) == 16 and df["label_voxels"].gt(0).all()
    out = tmp_path / "summary.csv"
    r = runner.invoke(app, ["data", "summary", str(cat), "-o", str(out)])
    assert r.exit_code == 0, r.output
    table = pd.read_csv(out)
    row = table[(table["center"] == "B") & (table["sequence"] == "OOP")].iloc[0]
    assert row["scans"] == 4 and row["patients"] == 4 and row["spacing_z_min"] == 3.0
    counts = json.loads(out.with_suffix(".json").read_text())["counts"]
    assert counts["T1"]["A"] == 4 and counts["total"]["total"] == 16


def test_layouts_command_lists_all_five() -> None:
    r = runner.invoke(app, ["data", "layouts"])
    assert r.exit_code == 0
    for name in ("crosspan", "pansegdata", "nnunet", "nnunetdg", "manifest"):
        assert name in r.output


def test_missing_dataset_is_one_clear_line(tmp_path: Path) -> None:
    r = runner.invoke(app, ["data", "catalog", str(tmp_path / "nope"), "-o", str(tmp_path / "c.csv")])
    assert r.exit_code == 2
    assert "does not exist" in r.output and "Fix:" in r.output
    assert not (tmp_path / "c.csv").exists()
