"""End to end: preprocess -> train ERM -> predict; masks in the exact source geometry; kill -9 + resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.core.dice import dice
from crosspan.data.io import read_header, read_image
from toy_scans import OBLIQUE, toy_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("engine")
    # oblique, axis-permuted (not LPS), anisotropic source geometry
    cat = toy_dataset(root / "data", n=6, spacing=(2.0, 0.9, 1.1), direction=OBLIQUE,
                      splits=("train", "train", "train", "train", "val", "test"))
    res = runner.invoke(app, ["preprocess", str(cat), "-o", str(root / "plan"), "--train-domains", "A:T1,B:T1"])
    assert res.exit_code == 0, res.output
    torch.set_num_threads(1)
    res = runner.invoke(app, ["train", str(root / "plan"), "-o", str(root / "run"), "--steps", "60", "--patch",
                              "32,32,32", "--hp", "optimizer=adamw", "--hp", "lr=0.01", "--val-every", "30",
                              "--ckpt-every", "30", "--seed", "1"])
    assert res.exit_code == 0, res.output
    return {"root": root, "catalog": cat, "plan": root / "plan", "run": root / "run"}


def test_run_folder_is_self_contained(trained: dict[str, Path]) -> None:
    run = trained["run"]
    for name in ("plan.json", "model.json", "checkpoint_last.pt", "model_final.pt", "log.jsonl"):
        assert (run / name).is_file(), name
    model = json.loads((run / "model.json").read_text())
    assert model["method"] == "erm" and model["train_domains"] == ["A:T1", "B:T1"]
    assert model["hparams"]["optimizer"] == "adamw"
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 61))
    assert "val_dice" in rows[29] and "val_dice" in rows[59]
    sd = torch.load(run / "model_final.pt", weights_only=True)
    assert any(k.startswith("network.") for k in sd)


def test_erm_learns_and_masks_have_source_geometry(trained: dict[str, Path]) -> None:
    out = trained["root"] / "pred"
    res = runner.invoke(app, ["predict", str(trained["run"]), str(trained["catalog"]), "-o", str(out), "--cases",
                              "all", "--save-probabilities"])
    assert res.exit_code == 0, res.output
    scores = []
    for i in range(6):
        mask, props = read_image(out / f"case{i}.nii.gz")
        ref = read_header(trained["root"] / "data" / f"case{i}.nii.gz")
        assert props.shape == ref.shape and props.spacing == pytest.approx(ref.spacing, abs=1e-6)
        assert props.origin == pytest.approx(ref.origin, abs=1e-5)
        assert props.direction == pytest.approx(ref.direction, abs=1e-6)
        assert props.orientation != "LPS"
        lab, _ = read_image(trained["root"] / "data" / f"case{i}_seg.nii.gz")
        scores.append(dice(mask, lab, empty=1.0))
    assert (out / "probabilities" / "case5.nii.gz").is_file()
    assert min(scores[4:]) > 0.8, scores  # held-out val/test cases


def test_predict_single_file_with_tta(trained: dict[str, Path]) -> None:
    out = trained["root"] / "pred_one"
    img = trained["root"] / "data" / "case5.nii.gz"
    res = runner.invoke(app, ["predict", str(trained["run"]), str(img), "-o", str(out), "--tta",
                              "--postprocess", "min-volume:0.01"])
    assert res.exit_code == 0, res.output
    mask, _ = read_image(out / "case5.nii.gz")
    lab, _ = read_image(trained["root"] / "data" / "case5_seg.nii.gz")
    assert dice(mask, lab, empty=1.0) > 0.8
    bad = runner.invoke(app, ["predict", str(trained["run"]), str(img), "-o", str(out), "--postprocess", "big"])
    assert bad.exit_code == 2


def _train_cmd(plan: Path, run: Path, *extra: str) -> list[str]:
    return [sys.executable, "-c", "from crosspan.cli.main import app; app()", "train", str(plan), "-o", str(run),
            "--steps", "24", "--patch", "16,16,16", "--ckpt-every", "4", "--deterministic", "--threads", "1",
            "--seed", "3", *extra]


def test_kill9_then_resume_matches_uninterrupted(trained: dict[str, Path], tmp_path: Path) -> None:
    plan = trained["plan"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    ref = runner.invoke(app, _train_cmd(plan, tmp_path / "ref")[3:])  # uninterrupted, in this process
    assert ref.exit_code == 0, ref.output
    run = tmp_path / "killed"
    proc = subprocess.Popen(_train_cmd(plan, run), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = run / "log.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if log.is_file() and len(log.read_text().splitlines()) >= 10:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run / "model_final.pt").exists()
    ck = torch.load(run / "checkpoint_last.pt", weights_only=True)
    assert 4 <= ck["step"] < 24
    again = subprocess.run(_train_cmd(plan, run, "--resume"), env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert f"(from {ck['step']})" in again.stderr.replace("\n", " ")
    steps = [json.loads(line)["step"] for line in log.read_text().splitlines()]
    assert steps == list(range(1, 25))  # rows logged after the checkpoint were dropped, then redone once
    a = torch.load(tmp_path / "ref" / "model_final.pt", weights_only=True)
    b = torch.load(run / "model_final.pt", weights_only=True)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_ssl_method_gets_unlabeled_batches_without_engine_change(trained: dict[str, Path], tmp_path: Path) -> None:
    from crosspan.methods.base import register_method
    from crosspan.methods.common import SupervisedMethod, update_supervised

    seen: list[tuple] = []

    @register_method
    class Probe(SupervisedMethod):
        name = "probe-ssl"
        needs_unlabeled = True

        def update(self, labeled, unlabeled=None):  # noqa: ANN001, ANN201
            seen.append((tuple(labeled["domain"].tolist()), tuple(unlabeled["image"].shape),
                         tuple(unlabeled["domain"].tolist()), "label" in unlabeled))
            return update_supervised(self, labeled)

    splits = {"protocol": "test", "seed": 0, "params": {}, "catalog": str(trained["catalog"]),
              "splits": [{"name": "fold0", "train": ["case0", "case1"], "val": ["case4"], "test": ["case5"],
                          "unlabeled": ["case3"], "train_domains": ["A:T1", "B:T1"]}]}
    sj = tmp_path / "splits.json"
    sj.write_text(json.dumps(splits))
    res = runner.invoke(app, ["preprocess", str(trained["catalog"]), "-o", str(tmp_path / "plan"), "--splits",
                              str(sj)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["train", str(tmp_path / "plan"), "-o", str(tmp_path / "run"), "--method", "probe-ssl",
                              "--steps", "3", "--patch", "16,16,16"])
    assert res.exit_code == 0, res.output
    assert len(seen) == 3
    assert all(s[1] == (2, 1, 16, 16, 16) and not s[3] for s in seen)
    assert all(set(s[2]) == {1} for s in seen)  # case3 is center B -> index 1 of [A:T1, B:T1]
    assert all(set(s[0]) <= {0, 1} for s in seen)
