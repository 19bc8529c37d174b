"""Scoring checkpoints during training: a checkpoint's row equals predicting that checkpoint separately."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.data.catalog import load_catalog
from crosspan.data.errors import CrosspanError
from crosspan.evaluation.checkpoint_eval import CheckpointScorer
from crosspan.evaluation.checkpoints import load_checkpoint_table, selections
from crosspan.evaluation.evaluate import evaluate_predictions
from crosspan.training.checkpoint import load_weights
from crosspan.training.loop import build_method
from test_engine_helpers import toy_dataset

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
                              "--threads", "1"])
    assert res.exit_code == 0, res.output
    return {"root": root, "catalog": cat, "plan": root / "plan", "run": root / "run"}


def _scorer(run: dict[str, Path], **kw: object) -> CheckpointScorer:
    model = json.loads((run["run"] / "model.json").read_text())
    plan = json.loads((run["run"] / "plan.json").read_text())
    return CheckpointScorer(run["run"], run["plan"], plan, model, ["A:T1", "B:T1"], **kw)  # type: ignore[arg-type]


def test_checkpoint_rows_equal_separate_prediction(run: dict[str, Path], tmp_path: Path) -> None:
    model = json.loads((run["run"] / "model.json").read_text())
    method = build_method(model)
    method.load_state_dict(load_weights(run["run"] / "model_final.pt"))
    scorer = _scorer(run)
    first = scorer(method, 30)
    with torch.no_grad():  # a different "checkpoint": damp the last layer
        for p in list(method.parameters())[-2:]:
            p.mul_(0.3)
    scorer(method, 31)
    table = load_checkpoint_table([run["run"] / "checkpoints.csv"])
    assert set(table["checkpoint"]) == {30, 31} and set(table["split"]) == {"val", "test"}
    oracle = table.groupby("split")["oracle"].agg(set)
    assert oracle["test"] == {True} and oracle["val"] == {False}
    assert first["dice"].max() > 0.2  # the 30-step model segments something: the comparison below is not 0 == 0
    for step in (30, 31):
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


def test_unknown_eval_domain_is_one_clear_error(run: dict[str, Path]) -> None:
    model = json.loads((run["run"] / "model.json").read_text())
    plan = json.loads((run["run"] / "plan.json").read_text())
    with pytest.raises(CrosspanError, match="C:OOP"):
        CheckpointScorer(run["run"], run["plan"], plan, model, ["C:OOP"])
