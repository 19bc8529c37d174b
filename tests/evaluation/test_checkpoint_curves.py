"""Transfer over training: checkpoint tables, curves, selection picks (oracle badged), report section in Chromium."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.evaluation.checkpoints import load_checkpoint_table, selections, training_curves
from example_results import example_results
from tests.report.test_report import _need_chromium, _render_check

runner = CliRunner()
STEPS = (100, 200, 300, 400)
#: validation (in-domain) Dice rises to the end; test (cross-sequence) Dice peaks at step 200
VAL = {100: 0.6, 200: 0.7, 300: 0.8, 400: 0.85}
TEST = {100: 0.2, 200: 0.45, 300: 0.3, 400: 0.1}


def checkpoint_table(path: Path) -> Path:
    rows = []
    for run, bonus in (("r0", 0.0), ("r1", 0.05)):
        for step in STEPS:
            for i in range(5):
                for split, seq, score in (("val", "T1", VAL[step]), ("test", "OOP", TEST[step] + bonus)):
                    rows.append({"case_id": f"A{i}_{seq}_{split}", "patient_id": f"A{i}", "center": "A",
                                 "sequence": seq, "method": "erm", "run": run, "seed": int(run[1]),
                                 "train_domains": "A:T1", "dice": score + 0.01 * i, "checkpoint": step,
                                 "split": split})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_curves_mark_test_points_oracle_and_rules_pick_different_steps(tmp_path: Path) -> None:
    df = load_checkpoint_table([checkpoint_table(tmp_path / "ck.csv")])
    curves = training_curves(df)
    test = curves[curves["split"] == "test"]
    assert test["oracle"].all() and not curves.loc[curves["split"] == "val", "oracle"].any()
    r1 = test[test["run"] == "r1"].set_index("checkpoint")["mean_dice"]
    assert np.allclose(r1.to_numpy(), [TEST[s] + 0.05 + 0.02 for s in STEPS])  # mean of 0.00 .. 0.04 offsets
    sel, notes = selections(df)
    picks = sel.set_index("rule")
    td = picks.loc["training-domain"]
    assert (td["run"], td["checkpoint"], td["oracle"]) == ("r0", 400, False)  # runs tie on val: the first
    assert np.isclose(td["test_dice"], TEST[400] + 0.02)  # the pick's test Dice, not the best test Dice (0.47)
    assert picks.loc["oracle", "oracle"] and picks.loc["oracle", "run"] == "r1"  # best test Dice at the last step
    assert notes == ["leave-one-domain-out: no rows to score for rule 'leave-one-domain-out'"]


def test_report_and_analyze_with_checkpoints(tmp_path: Path) -> None:
    ck = checkpoint_table(tmp_path / "ck.csv")
    res_csv = tmp_path / "results.csv"
    example_results(patients_per_center=4, seeds=2).to_csv(res_csv, index=False)
    out = tmp_path / "an"
    res = runner.invoke(app, ["analyze", str(res_csv), "-o", str(out), "--n-boot", "100", "--n-draws", "50",
                              "--n-rank-boot", "100", "--checkpoints", str(ck)])
    assert res.exit_code == 0, res.output
    sel = pd.read_csv(out / "selection.csv")
    assert set(sel["rule"]) == {"training-domain", "oracle"} and sel.loc[sel["rule"] == "oracle", "oracle"].all()
    assert len(pd.read_csv(out / "training_curves.csv")) == 2 * 2 * len(STEPS)
    page = tmp_path / "rep" / "report.html"
    res = runner.invoke(app, ["report", str(res_csv), "-o", str(page), "--n-boot", "100", "--n-rank-boot", "100",
                              "--checkpoints", str(ck)])
    assert res.exit_code == 0, res.output
    text = page.read_text()
    assert 'alt="transfer over training"' in text and "Transfer over training" in text
    assert "Model selection over training checkpoints" in page.with_suffix(".md").read_text()
    _need_chromium()
    verdict, console = _render_check(page, tmp_path)
    assert verdict["images"] == 7 and verdict["bad"] == [] and verdict["errors"] == [], verdict
    assert console == []


def test_bad_checkpoint_table_writes_nothing(tmp_path: Path) -> None:
    res_csv = tmp_path / "results.csv"
    example_results(patients_per_center=2, seeds=1).to_csv(res_csv, index=False)
    bad = tmp_path / "ck.csv"
    example_results(patients_per_center=2, seeds=1).to_csv(bad, index=False)  # no checkpoint / split columns
    out = tmp_path / "an"
    res = runner.invoke(app, ["analyze", str(res_csv), "-o", str(out), "--checkpoints", str(bad)])
    assert res.exit_code == 2 and "ck.csv" in res.output and "checkpoint" in res.output and not out.exists()
