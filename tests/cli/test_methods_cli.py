"""`crosspan methods`: every registered method, its kind, paper, hyperparameters and availability."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.methods.base import get_method, method_names

runner = CliRunner()


def test_methods_lists_every_registered_method_with_json(tmp_path: Path) -> None:
    out = tmp_path / "methods.json"
    res = runner.invoke(app, ["methods", "-o", str(out)])
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(out.read_text())["methods"]}
    assert sorted(rows) == method_names()
    for name, row in rows.items():
        assert name in res.output
        assert set(row["hparams"]) == set(get_method(name).default_hparams)
        assert row["available"] == (row["unavailable_reason"] == "")
    assert rows["erm"]["kind"] == "supervised" and rows["erm"]["available"]
    assert "Gulrajani" in rows["erm"]["paper"] and rows["erm"]["hparams"]["lr"] == {"default": 0.01, "range": "> 0"}
    assert rows["litemedsam"]["kind"] == "zero-shot, box-prompted"
    mrseg = rows["mrsegmentator"]
    assert mrseg["kind"] == "zero-shot, automatic" and "Häntze" in mrseg["paper"]
    assert not mrseg["available"] and "no mrsegmentator weights" in mrseg["unavailable_reason"]
    assert mrseg["hparams"]["fold"] == {"default": -1, "range": "in [-1, 4]"}
    assert "TotalSegmentator MRI" in rows["totalseg-mr"]["paper"]
    assert rows["fixmatch"]["kind"] == "semi-supervised" and rows["gin"]["kind"] == "domain generalization"


def test_methods_unknown_name_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    res = runner.invoke(app, ["methods", "erm", "nosuch", "-o", str(out)])
    assert res.exit_code != 0 and "unknown method(s) nosuch" in res.output and "erm" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not out.exists()


def test_device_auto_is_the_default_and_bad_devices_are_one_line(tmp_path: Path) -> None:
    import inspect

    import torch

    from crosspan.cli.common import resolve_device
    from crosspan.cli.predict import predict_cmd
    from crosspan.cli.train import train_cmd

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cuda:1") == "cuda:1" and resolve_device("cpu") == "cpu"
    for cmd in (predict_cmd, train_cmd):
        assert inspect.signature(cmd).parameters["device"].default.default == "auto"
    for args in (["predict", "RUN", "DATA"], ["train", "PLAN"]):
        res = runner.invoke(app, [*args, "-o", str(tmp_path / "out"), "--device", "gpu"])
        assert res.exit_code != 0 and "bad --device 'gpu'" in res.output
        assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
