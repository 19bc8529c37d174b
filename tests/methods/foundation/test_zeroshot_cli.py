"""`crosspan predict --method NAME` without a run folder: prompts built from labels, masks in the source geometry,
``zeroshot.json`` marks oracle prompts, and `crosspan evaluate --oracle` carries the flag into every row."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.data.io import read_image
from crosspan.methods.foundation import litemedsam
from data_builders import crosspan_release

runner = CliRunner()


@pytest.fixture()
def box_filler(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """LiteMedSAM with its network replaced by 'fill the box' (fast; the real weights are tested elsewhere)."""
    seen: list[dict] = []

    def segment(self, image, boxes):  # noqa: ANN001
        seen.append(dict(boxes))
        out = np.zeros(image.shape, bool)
        for z, (y0, x0, y1, x1) in boxes.items():
            out[z, y0:y1, x0:x1] = True
        return out

    monkeypatch.setattr(litemedsam, "load_litemedsam", lambda device="cpu", pretrained=True: None)
    monkeypatch.setattr(litemedsam.LiteMedSAM, "segment", segment)
    return seen


def test_oracle_box_predicts_evaluates_and_flags_oracle(tmp_path, box_filler) -> None:
    data = crosspan_release(tmp_path / "d", centers=("A",), sequences=("T1",))
    out = tmp_path / "pred"
    r = runner.invoke(app, ["predict", "--method", "litemedsam", str(data), "-o", str(out), "--hp",
                            "prompt=oracle-box"])
    assert r.exit_code == 0, r.output
    info = json.loads((out / "zeroshot.json").read_text())
    assert info["oracle"] is True and info["hparams"]["prompt"] == "oracle-box" and info["cases"] == 1
    mask, _ = read_image(out / "A_0003_T1.nii.gz")
    label, _ = read_image(data / "T1" / "test" / "labels" / "A_0003.nii.gz")
    assert np.array_equal(mask > 0, label > 0)  # a box-shaped label, box-filled: exact
    res = tmp_path / "res.csv"
    r = runner.invoke(app, ["evaluate", str(data), "--pred", str(out), "--method", "litemedsam", "--oracle",
                            "--workers", "1", "-o", str(res)])
    assert r.exit_code == 0, r.output
    df = pd.read_csv(res)
    assert df["oracle"].all() and df["dice"].iloc[0] == pytest.approx(1.0)


def test_jittered_box_is_oracle_and_moves_the_boxes(tmp_path, box_filler) -> None:
    data = crosspan_release(tmp_path / "d", centers=("A",), sequences=("T1",))
    out = tmp_path / "pred"
    r = runner.invoke(app, ["predict", "--method", "litemedsam", str(data), "-o", str(out), "--hp",
                            "prompt=jittered-box", "--hp", "jitter=0.3", "--hp", "seed=3"])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "zeroshot.json").read_text())["oracle"] is True
    mask, _ = read_image(out / "A_0003_T1.nii.gz")
    label, _ = read_image(data / "T1" / "test" / "labels" / "A_0003.nii.gz")
    assert not np.array_equal(mask > 0, label > 0)
    assert (mask & label).sum() > 0


def test_errors_are_one_line(tmp_path, box_filler) -> None:
    data = crosspan_release(tmp_path / "d", centers=("A",), sequences=("T1",))
    r = runner.invoke(app, ["predict", "--method", "litemedsam", str(data), "-o", str(tmp_path / "p"), "--hp",
                            "prompt=model-box"])
    assert r.exit_code == 2 and "box_model" in r.output
    r = runner.invoke(app, ["predict", "--method", "erm", str(data), "-o", str(tmp_path / "p")])
    assert r.exit_code == 2 and "trained method" in r.output
    r = runner.invoke(app, ["predict", "--method", "litemedsam", str(data), "-o", str(tmp_path / "p"), "--hp",
                            "prompt=guess"])
    assert r.exit_code == 2 and "prompt" in r.output
    r = runner.invoke(app, ["predict", "--method", "medsam2", str(data), "-o", str(tmp_path / "p")])
    assert r.exit_code == 2 and "--hp checkpoint=/path/to/MedSAM2.pt" in r.output.replace("\n", "")
    img = data / "T1" / "test" / "images" / "A_0003_0000.nii.gz"
    r = runner.invoke(app, ["predict", "--method", "litemedsam", str(img), "-o", str(tmp_path / "p")])
    assert r.exit_code == 2 and "ground-truth label" in r.output.replace("\n", "")


def test_model_box_uses_the_trained_runs_mask_and_is_not_oracle(tmp_path, box_filler, monkeypatch) -> None:
    from crosspan.inference import zeroshot

    data = crosspan_release(tmp_path / "d", centers=("A",), sequences=("T1",))
    runs: list[str] = []
    monkeypatch.setattr(zeroshot, "load_run", lambda run_dir, device="cpu": runs.append(str(run_dir)) or "run")
    fake = np.zeros((8, 16, 16), bool)
    fake[2:4, 1:3, 5:9] = True
    monkeypatch.setattr(zeroshot, "model_box_mask", lambda run, image, device: fake)
    out = tmp_path / "pred"
    r = runner.invoke(app, ["predict", "--method", "litemedsam", str(data), "-o", str(out), "--hp", "prompt=model-box",
                            "--hp", f"box_model={tmp_path / 'run'}"])
    assert r.exit_code == 0, r.output
    assert runs == [str(tmp_path / "run")]
    assert json.loads((out / "zeroshot.json").read_text())["oracle"] is False
    assert box_filler[0] == {2: (1, 5, 3, 9), 3: (1, 5, 3, 9)}
    mask, _ = read_image(out / "A_0003_T1.nii.gz")
    assert np.array_equal(mask > 0, fake)


def test_benchmark_hooks(tmp_path) -> None:
    from crosspan.inference.zeroshot import is_zero_shot, oracle_prompt, skip_reason

    assert is_zero_shot("litemedsam") and is_zero_shot("medsam2") and not is_zero_shot("erm")
    assert oracle_prompt("litemedsam", {}) and oracle_prompt("medsam2", {"prompt": "jittered-box"})
    assert not oracle_prompt("litemedsam", {"prompt": "model-box"})
    assert "checkpoint" in skip_reason("medsam2", {})
    assert "checkpoint" in skip_reason("medsam2", {"checkpoint": str(tmp_path / "none.pt")})
    ckpt = tmp_path / "m.pt"
    ckpt.write_bytes(b"x")
    import importlib.util

    if importlib.util.find_spec("sam2") is None:  # sam2 is an optional sdist (docs/foundation.md)
        assert "sam2" in skip_reason("medsam2", {"checkpoint": str(ckpt)})
    else:
        assert skip_reason("medsam2", {"checkpoint": str(ckpt)}) is None
    assert skip_reason("litemedsam", {}) is None


def test_rerun_skips_finished_volumes_unless_the_prompt_changes(tmp_path, box_filler) -> None:
    data = crosspan_release(tmp_path / "d", centers=("A",), sequences=("T1",))
    out = tmp_path / "pred"
    args = ["predict", "--method", "litemedsam", str(data), "-o", str(out), "--hp"]
    assert runner.invoke(app, [*args, "prompt=oracle-box"]).exit_code == 0
    calls = len(box_filler)
    assert calls > 0
    r = runner.invoke(app, [*args, "prompt=oracle-box"])
    assert r.exit_code == 0 and len(box_filler) == calls, r.output  # the finished volume is not segmented again
    assert json.loads((out / "zeroshot.json").read_text())["seconds_per_volume"] >= 0  # kept from the first run
    assert runner.invoke(app, [*args, "prompt=jittered-box"]).exit_code == 0
    assert len(box_filler) > calls
    assert runner.invoke(app, [*args, "prompt=jittered-box", "--no-resume"]).exit_code == 0
    assert len(box_filler) > calls + 1
