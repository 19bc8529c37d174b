"""`crosspan predict` resumes per case: a second run into the same folder skips the cases finished with the same
weights and settings, and predicts again what changed (a setting, an image, a deleted mask); a killed run's ledger
names only the masks it finished."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import crosspan.inference.predict as predict_module
from crosspan.cli.main import app
from crosspan.data.io import read_image
from crosspan.inference.ledger import LEDGER
from crosspan.inference.predict import predict

runner = CliRunner()


@pytest.fixture
def predicted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The case ids :func:`predict_case` actually predicts."""
    seen: list[str] = []
    real = predict_module.predict_case

    def counted(*args: Any, **kwargs: Any) -> Any:
        seen.append(args[5])  # case_id
        return real(*args, **kwargs)

    monkeypatch.setattr(predict_module, "predict_case", counted)
    return seen


def _run(run: Path, data: Path, out: Path, **kw: Any) -> dict[str, int]:
    stats: dict[str, int] = {}
    predict(run, data, out, progress=False, cache_stats=stats, **kw)
    return stats


def test_second_run_skips_finished_cases_and_redoes_what_changed(trained: dict[str, Path], tmp_path: Path,
                                                                 predicted: list[str]) -> None:
    cat = trained["catalog"]
    out = tmp_path / "pred"
    assert _run(trained["run"], cat, out)["resumed"] == 0 and predicted == ["case2", "case3"]
    first = {c: read_image(out / f"{c}.nii.gz")[0] for c in ("case2", "case3")}
    mtime = (out / "case2.nii.gz").stat().st_mtime_ns
    predicted.clear()
    assert _run(trained["run"], cat, out)["resumed"] == 2 and predicted == []
    assert (out / "case2.nii.gz").stat().st_mtime_ns == mtime  # not rewritten
    (out / "case3.nii.gz").unlink()  # a lost mask is predicted again, the same
    assert _run(trained["run"], cat, out)["resumed"] == 1 and predicted == ["case3"]
    assert np.array_equal(read_image(out / "case3.nii.gz")[0], first["case3"])
    predicted.clear()
    os.utime(trained["root"] / "data" / "case2.nii.gz", (1.0, 1.0))  # a changed image
    assert _run(trained["run"], cat, out)["resumed"] == 1 and predicted == ["case2"]
    predicted.clear()
    assert _run(trained["run"], cat, out, overlap=0.25)["resumed"] == 0 and predicted == ["case2", "case3"]
    predicted.clear()
    assert _run(trained["run"], cat, out, overlap=0.25, resume=False)["resumed"] == 0 and len(predicted) == 2
    predicted.clear()
    (trained["run"] / "model_final.pt").touch()  # other weights (the same path, a new mtime)
    assert _run(trained["run"], cat, out, overlap=0.25)["resumed"] == 0 and len(predicted) == 2


def test_killed_run_leaves_a_ledger_of_finished_masks_only(trained: dict[str, Path], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    real = predict_module.predict_case
    done: list[str] = []

    def dies_on_second(*args: Any, **kwargs: Any) -> Any:
        if done:
            raise KeyboardInterrupt  # what a kill looks like from inside: no cleanup runs
        done.append(args[5])
        return real(*args, **kwargs)

    monkeypatch.setattr(predict_module, "predict_case", dies_on_second)
    out = tmp_path / "pred"
    with pytest.raises(KeyboardInterrupt):
        predict(trained["run"], trained["catalog"], out, progress=False)
    ledger = json.loads((out / LEDGER).read_text())
    assert sorted(ledger["cases"]) == done == ["case2"]
    monkeypatch.setattr(predict_module, "predict_case", real)
    res = runner.invoke(app, ["predict", str(trained["run"]), str(trained["catalog"]), "-o", str(out),
                              "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert "resumed: 1 of 2 case(s)" in res.output and "plan cache: 1 of 1 case(s)" in res.output, res.output
    assert sorted(json.loads((out / LEDGER).read_text())["cases"]) == ["case2", "case3"]


def test_failed_run_forgets_the_masks_it_removes(trained: dict[str, Path], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    real = predict_module.predict_case
    calls: list[int] = []

    def fails_on_second(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("broken case")
        return real(*args, **kwargs)

    monkeypatch.setattr(predict_module, "predict_case", fails_on_second)
    out = tmp_path / "pred"
    with pytest.raises(RuntimeError):
        predict(trained["run"], trained["catalog"], out, progress=False)
    assert not (out / "case2.nii.gz").exists()  # a failed run leaves none of its masks
    assert json.loads((out / LEDGER).read_text())["cases"] == {}
