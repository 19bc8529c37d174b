"""Scoring checkpoints during training (`crosspan train --eval-every`): each checkpoint's rows equal predicting
that checkpoint separately with `crosspan predict` + evaluate; test rows are oracle."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.core.errors import CrosspanError
from crosspan.data.catalog import load_catalog
from crosspan.evaluation.checkpoint_eval import CheckpointScorer
from crosspan.evaluation.checkpoints import load_checkpoint_table, selections
from crosspan.evaluation.evaluate import evaluate_predictions
from crosspan.preprocess.plan import Plan
from crosspan.runs.model import RunModel
from crosspan.runs.run import build_method
from crosspan.runs.weights import load_weights
from toy_scans import toy_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ckpt")
    cat = toy_dataset(root / "data", n=6, shape=(24, 32, 32))
    res = runner.invoke(app, ["preprocess", str(cat), "-o", str(root / "plan"), "--train-domains", "A:T1,B:T1"])
    assert res.exit_code == 0, res.output
    torch.set_num_threads(1)
    res = runner.invoke(app, ["train", str(root / "plan"), "-o", str(root / "run"), "--steps", "30", "--patch",
                              "16,32,32", "--hp", "optimizer=adamw", "--hp", "lr=0.01", "--seed", "1",
                              "--threads", "1", "--eval-every", "15"])
    assert res.exit_code == 0, res.output
    return {"root": root, "catalog": cat, "plan": root / "plan", "run": root / "run"}


def _scorer(run: dict[str, Path], **kw: object) -> CheckpointScorer:
    model, plan = RunModel.load(run["run"]), Plan.load(run["run"])
    return CheckpointScorer(run["run"], run["plan"], plan, model, ["A:T1", "B:T1"], **kw)  # type: ignore[arg-type]


def test_checkpoint_rows_equal_separate_prediction(run: dict[str, Path], tmp_path: Path) -> None:
    table = load_checkpoint_table([run["run"] / "checkpoints.csv"])  # written by `train --eval-every 15`
    assert set(table["checkpoint"]) == {15, 30} and set(table["split"]) == {"val", "test"}
    oracle = table.groupby("split")["oracle"].agg(set)
    assert oracle["test"] == {True} and oracle["val"] == {False}
    assert table["dice"].max() > 0.2  # the model segments something: the comparison below is not 0 == 0
    final = load_weights(run["run"] / "model_final.pt")
    kept = load_weights(run["run"] / "checkpoints" / "step_000030.pt")
    assert all(torch.equal(final[k], kept[k]) for k in final)
    for step in (15, 30):
        sep = tmp_path / f"run{step}"  # a run folder whose final weights are that checkpoint
        shutil.copytree(run["run"], sep, ignore=shutil.ignore_patterns("checkpoints*", "*.pt"))
        shutil.copy(run["run"] / "checkpoints" / f"step_{step:06d}.pt", sep / "model_final.pt")
        res = runner.invoke(app, ["predict", str(sep), str(run["catalog"]), "-o", str(tmp_path / f"p{step}"),
                                  "--cases", "all"])
        assert res.exit_code == 0, res.output
        cat = load_catalog(run["catalog"])
        again = evaluate_predictions(cat[cat["case_id"].isin(["case4", "case5"])].assign(split="test"),
                                     tmp_path / f"p{step}", "erm", cases="test", workers=1, progress=False)
        got = table[table["checkpoint"] == step].set_index("case_id")["dice"]
        pd.testing.assert_series_equal(got.sort_index(), again.set_index("case_id")["dice"].sort_index(),
                                       check_names=False)
    assert table.groupby("checkpoint")["dice"].mean().nunique() == 2  # the two checkpoints differ
    sel, _ = selections(table)
    assert sel.loc[sel["rule"] == "oracle", "oracle"].all()


def test_scorer_replaces_a_redone_step(run: dict[str, Path], tmp_path: Path) -> None:
    work = tmp_path / "run"
    shutil.copytree(run["run"], work)
    method = build_method(RunModel.load(work))
    method.load_state_dict(load_weights(work / "model_final.pt"))
    with torch.no_grad():  # another model at step 30 (a resumed run redoing it)
        for p in list(method.parameters())[-2:]:
            p.mul_(0.3)
    rows = _scorer({**run, "run": work}, test=False)(method, 30)
    table = pd.read_csv(work / "checkpoints.csv")
    assert set(rows["split"]) == {"val"} and (table["checkpoint"] == 30).sum() == len(rows)
    assert (table["checkpoint"] == 15).sum() == 2


def test_bad_eval_domains_fail_before_training(run: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "never"
    res = runner.invoke(app, ["train", str(run["plan"]), "-o", str(out), "--steps", "2", "--eval-every", "1",
                              "--eval-domains", "C:OOP", "--threads", "1"])
    assert res.exit_code == 2 and "C:OOP" in res.output and not out.exists()
    res = runner.invoke(app, ["train", str(run["plan"]), "-o", str(out), "--eval-domains", "A:T1"])
    assert res.exit_code == 2 and "--eval-every" in res.output and not out.exists()


def test_unknown_eval_domain_is_one_clear_error(run: dict[str, Path]) -> None:
    model, plan = RunModel.load(run["run"]), Plan.load(run["run"])
    with pytest.raises(CrosspanError, match="C:OOP"):
        CheckpointScorer(run["run"], run["plan"], plan, model, ["C:OOP"])


def test_scoring_does_not_change_training(run: dict[str, Path], tmp_path: Path) -> None:
    res = runner.invoke(app, ["train", str(run["plan"]), "-o", str(tmp_path / "plain"), "--steps", "30", "--patch",
                              "16,32,32", "--hp", "optimizer=adamw", "--hp", "lr=0.01", "--seed", "1",
                              "--threads", "1"])
    assert res.exit_code == 0, res.output
    plain, scored = load_weights(tmp_path / "plain" / "model_final.pt"), load_weights(run["run"] / "model_final.pt")
    assert all(torch.equal(plain[k], scored[k]) for k in plain)
