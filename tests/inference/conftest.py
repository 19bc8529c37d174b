"""Shared fixtures of the inference tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from crosspan.cli.main import app
from toy_scans import toy_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """4 toy scans (anisotropic, off-origin, so the way back resamples), all cached; a 3-step run."""
    root = tmp_path_factory.mktemp("plancache")
    torch.set_num_threads(1)
    cat = toy_dataset(root / "data", n=4, shape=(24, 32, 32), splits=("train", "train", "test", "test"))
    res = runner.invoke(app, ["preprocess", str(cat), "-o", str(root / "plan"), "--train-domains", "A:T1,B:T1",
                              "--spacing", "2.5,1.3,1.3"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["train", str(root / "plan"), "-o", str(root / "run"), "--steps", "3", "--patch",
                              "16,16,16", "--threads", "1", "--ckpt-every", "100"])
    assert res.exit_code == 0, res.output
    return {"root": root, "catalog": cat, "plan": root / "plan", "run": root / "run"}
