"""End to end: `crosspan train` runs every SSL method on a split with an unlabeled list (no engine change); the
final weights hold the teacher / second network, and `crosspan predict` works from the run folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from crosspan.cli.main import app
from toy_scans import toy_dataset

runner = CliRunner()
SSL = {"mean-teacher": "cons", "fixmatch": "unsup", "cps": "cps", "ua-mt": "certain", "anatomy-invariant": "region"}


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ssl")
    cat = toy_dataset(root / "data", n=5, shape=(16, 24, 24), splits=("train", "train", "train", "val", "test"))
    splits = {"protocol": "test", "seed": 0, "params": {}, "catalog": str(cat),
              "splits": [{"name": "fold0", "train": ["case0", "case1"], "val": ["case3"], "test": ["case4"],
                          "unlabeled": ["case2", "case4"], "train_domains": ["A:T1", "B:T1"]}]}
    sj = root / "splits.json"
    sj.write_text(json.dumps(splits))
    res = runner.invoke(app, ["preprocess", str(cat), "-o", str(root / "plan"), "--splits", str(sj)])
    assert res.exit_code == 0, res.output
    return {"root": root, "catalog": cat, "plan": root / "plan"}


@pytest.mark.parametrize("name", list(SSL))
def test_train_ssl_method(plan: dict[str, Path], name: str) -> None:
    torch.set_num_threads(1)
    run = plan["root"] / f"run-{name}"
    hp = ["--hp", "uncertainty_T=2"] if name == "ua-mt" else []
    res = runner.invoke(app, ["train", str(plan["plan"]), "-o", str(run), "--method", name, "--steps", "2",
                              "--patch", "16,16,16", "--hp", "rampup_steps=1", *hp])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and all(SSL[name] in r for r in rows)
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in rows)
    sd = torch.load(run / "model_final.pt", weights_only=True)
    extra = "network2." if name == "cps" else None if name == "fixmatch" else "teacher."
    assert extra is None or any(k.startswith(extra) for k in sd)
    assert int(sd["step_count"]) == 2
    if name in ("mean-teacher", "cps"):
        out = plan["root"] / f"pred-{name}"
        res = runner.invoke(app, ["predict", str(run), str(plan["catalog"]), "-o", str(out), "--cases", "all"])
        assert res.exit_code == 0, res.output
        assert len(list(out.rglob("*.nii.gz"))) >= 5
