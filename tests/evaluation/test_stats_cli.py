"""`crosspan analyze`: writes every table, errors name the file and the missing columns, nothing half-written."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from crosspan.cli.main import app
from example_results import example_results

runner = CliRunner()


def test_analyze_writes_all_tables(tmp_path) -> None:
    df = example_results(patients_per_center=6, seeds=3)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    df[df["method"] != "dg"].to_csv(a, index=False)
    df[df["method"] == "dg"].assign(status="ok").to_csv(b, index=False)
    out = tmp_path / "analysis"
    res = runner.invoke(app, ["analyze", str(a), str(b), "-o", str(out), "--n-boot", "300", "--n-draws", "200"])
    assert res.exit_code == 0, res.output
    for name in ("summary.csv", "by_transfer.csv", "domain_matrix.csv", "sampling_variance.csv",
                 "correlation.json", "paired_tests.csv", "domain_gaps.csv"):
        assert (out / name).is_file(), name
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["method"]) == {"erm", "dg", "promptseg"}
    assert summary.loc[summary["method"] == "promptseg", "oracle"].all()
    by_t = pd.read_csv(out / "by_transfer.csv").set_index(["method", "transfer"])
    assert by_t.loc[("erm", "cross-sequence"), "dice_mean"] < 0.2 < by_t.loc[("dg", "cross-sequence"), "dice_mean"]
    assert (by_t["dice_ci_low"] <= by_t["dice_mean"]).all() and (by_t["dice_mean"] <= by_t["dice_ci_high"]).all()
    corr = json.loads((out / "correlation.json").read_text())
    assert corr["targets"]["cross-center"]["n_runs"] == 6
    assert "Dice by transfer type" in res.stdout
    assert not list(out.glob(".*tmp*"))


def test_analyze_missing_columns_names_file_and_columns(tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    example_results(patients_per_center=2, seeds=1).drop(columns=["patient_id", "center"]).to_csv(bad, index=False)
    out = tmp_path / "analysis"
    res = runner.invoke(app, ["analyze", str(bad), "-o", str(out)])
    assert res.exit_code == 2
    assert "bad.csv" in res.output and "patient_id" in res.output and "center" in res.output
    assert not out.exists()


def test_analyze_missing_file(tmp_path) -> None:
    res = runner.invoke(app, ["analyze", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "nope.csv" in res.output
