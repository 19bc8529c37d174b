"""Typed run documents: model.json (RunModel), weights files; a bad file is one line naming it and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from crosspan.core.errors import CrosspanError
from crosspan.runs.model import RunModel
from crosspan.runs.run import build_method, open_run
from crosspan.runs.weights import load_weights, run_weights

#: a model.json as `crosspan train` wrote it before RunModel (key order and values kept on a round trip)
MODEL = {"network": "tiny", "network_config": {"preset": "tiny", "in_channels": 1, "out_channels": 2,
                                               "channels": [8, 16], "strides": [2]},
         "method": "erm", "hparams": {"lr": 0.01, "optimizer": "adamw"}, "train_domains": ["A:T1", "B:T1"],
         "patch_size": [16, 32, 32], "target_spacing": [1.0, 1.0, 1.0], "seed": 1, "steps": 30, "batch_size": 2,
         "plan_dir": "/somewhere/plan", "augment": {"mirror": False, "elastic": 0.0}, "world_size": 1}


def _write(folder: Path, doc: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.json").write_text(json.dumps(doc))
    return folder


def test_model_json_round_trips_key_for_key(tmp_path: Path) -> None:
    model = RunModel.load(_write(tmp_path / "run", MODEL))
    assert model.method == "erm" and model.patch_size == [16, 32, 32] and model.augmentation().mirror is False
    assert model.extended_from is None
    assert model.to_json() == MODEL and list(model.to_json()) == list(MODEL)  # absent optional keys stay absent
    model.extended_from, model.steps = 30, 60
    model.save(tmp_path / "run")
    again = json.loads((tmp_path / "run" / "model.json").read_text())
    assert again == {**MODEL, "steps": 60, "extended_from": 30}


def test_older_and_newer_model_json_load(tmp_path: Path) -> None:
    old = {k: v for k, v in MODEL.items() if k not in ("augment", "world_size")}  # before --mirror/--elastic
    assert RunModel.load(_write(tmp_path / "old", old)).augmentation().elastic == 0.0
    newer = RunModel.load(_write(tmp_path / "new", {**MODEL, "future_key": [1, 2]}))
    assert newer.to_json()["future_key"] == [1, 2]  # kept, so a resume writes it back


@pytest.mark.parametrize(("doc", "words"), [
    ({k: v for k, v in MODEL.items() if k != "method"}, "method: Field required"),
    ({**MODEL, "patch_size": [16, 32]}, "patch_size"),
    ({**MODEL, "steps": 0}, "steps"),
    ({**MODEL, "seed": "one"}, "seed"),
    ([1, 2], "top level"),
])
def test_bad_model_json_is_one_line(tmp_path: Path, doc: object, words: str) -> None:
    run = _write(tmp_path / "run", doc)
    with pytest.raises(CrosspanError) as err:
        RunModel.load(run)
    text = str(err.value)
    assert str(run / "model.json") in text and "not a valid model.json" in text and words in text
    assert "crosspan train" in text and "\n" not in text


def test_unreadable_or_missing_model_json(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    with pytest.raises(CrosspanError, match="no model.json here"):
        RunModel.load(tmp_path / "run")
    (tmp_path / "run" / "model.json").write_text("{not json")
    with pytest.raises(CrosspanError, match="not a readable model.json"):
        RunModel.load(tmp_path / "run")


def test_open_run_rebuilds_the_trained_method(tmp_path: Path) -> None:
    from crosspan.models import network_config
    from crosspan.preprocess.plan import Cases, Plan

    doc = {**MODEL, "network_config": network_config("tiny", [16, 32, 32], [1.0, 1.0, 1.0])}
    run = _write(tmp_path / "run", doc)
    with pytest.raises(CrosspanError, match="plan.json: missing"):
        open_run(run)
    plan = Plan(target_spacing=(1.0, 1.0, 1.0), patch_size=(16, 32, 32), patch_size_cpu=(16, 32, 32),
                cases=Cases(train=["a"]))
    (run / "plan.json").write_text(json.dumps(plan.to_json()))
    method = build_method(RunModel.load(run))
    with torch.no_grad():
        for p in method.parameters():
            p.fill_(0.25)
    torch.save(method.state_dict(), run / "checkpoint_last.pt")  # a run still training: no model_final.pt yet
    assert run_weights(run).name == "checkpoint_last.pt"
    opened = open_run(run)
    assert not opened.method.training and opened.plan.cases.train == ["a"]
    assert all(bool((p == 0.25).all()) for p in opened.method.parameters())
    assert set(load_weights(run / "checkpoint_last.pt")) == set(method.state_dict())
