"""The trained toy run the CLI corpus files share (``run``): a catalog, a plan and a 2-step run folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from crosspan.cli.main import app
from toy_scans import toy_dataset

TRAIN_ARGS = ("--steps", "2", "--patch", "16,16,16", "--threads", "1", "--ckpt-every", "1")


@pytest.fixture(scope="session")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad")
    torch.set_num_threads(1)
    cat = toy_dataset(root / "data", n=4, shape=(24, 24, 24), splits=("train", "train", "val", "test"))
    runner = CliRunner()
    res = runner.invoke(app, ["preprocess", str(cat), "-o", str(root / "plan"), "--train-domains", "A:T1,B:T1"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["train", str(root / "plan"), "-o", str(root / "run"), *TRAIN_ARGS])
    assert res.exit_code == 0, res.output
    return {"root": root, "catalog": cat, "plan": root / "plan", "run": root / "run"}
