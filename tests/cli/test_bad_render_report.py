"""Issue 18, part of the bad-input corpus: the inputs of ``synth render`` (label maps) and of ``report`` (results
tables, montage catalog and predictions), one by one: exit 2, one line naming the file, the problem and the fix,
and no output written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.data.io import write_image
from tests.report.test_report import _dataset
from tests.synth.test_render import PROPS, totalseg_like

runner = CliRunner()


def _one_line(res: object, *words: str) -> str:
    text = " ".join(res.output.split())  # type: ignore[attr-defined]
    assert res.exit_code == 2 and "Traceback" not in text, text  # type: ignore[attr-defined]
    assert text.count("error:") == 1 and "Fix:" in text and all(w in text for w in words), text
    return text


# ----- synth render: label maps -----
def _float_map(d: Path) -> str:
    write_image(totalseg_like(0).astype(np.float32) * 0.5, PROPS, d / "bad.nii.gz")
    return "non-integer values"


def _negative(d: Path) -> str:
    write_image(totalseg_like(0).astype(np.int16) - 1, PROPS, d / "bad.nii.gz")
    return "negative ids"


def _image_not_labels(d: Path) -> str:
    write_image(np.arange(np.prod(PROPS.shape), dtype=np.int32).reshape(PROPS.shape), PROPS, d / "bad.nii.gz")
    return "distinct values"


def _truncated(d: Path) -> str:
    write_image(totalseg_like(0), PROPS, d / "bad.nii.gz")
    data = (d / "bad.nii.gz").read_bytes()
    (d / "bad.nii.gz").write_bytes(data[: len(data) // 2])
    return "truncated"


def _nan(d: Path) -> str:
    arr = totalseg_like(0).astype(np.float32)
    arr[0, 0, 0] = np.nan
    write_image(arr, PROPS, d / "bad.nii.gz")
    return "NaN/Inf"


def _two_d(d: Path) -> str:
    nib.save(nib.Nifti1Image(np.ones((16, 16), np.uint8), np.eye(4)), str(d / "bad.nii.gz"))
    return "2D"


MAPS: list[Callable[[Path], str]] = [_float_map, _negative, _image_not_labels, _truncated, _nan, _two_d]


def _render(labels: Path, out: Path, *extra: str) -> object:
    return runner.invoke(app, ["synth", "render", str(labels), str(out), "--preset", "totalseg-mr", "--sequences",
                               "T1", "--centers", "A", *extra])


@pytest.mark.parametrize("damage", MAPS, ids=[f.__name__.strip("_") for f in MAPS])
def test_render_refuses_a_bad_label_map(tmp_path: Path, damage: Callable[[Path], str]) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    write_image(totalseg_like(1), PROPS, labels / "good.nii.gz")
    words = damage(labels)
    _one_line(_render(labels, tmp_path / "out"), "bad.nii.gz", words)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".*"))


def test_render_error_in_a_worker_process_is_the_same_line(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    for i in range(3):
        write_image(totalseg_like(i), PROPS, labels / f"s{i}.nii.gz")
    _float_map(labels)
    _one_line(_render(labels, tmp_path / "out", "--workers", "2"), "bad.nii.gz", "non-integer values")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("make", "words"), [("missing", "is not a folder"), ("empty", "holds no label maps"),
                                             ("other", "holds no label maps")])
def test_render_refuses_a_missing_or_empty_labels_folder(tmp_path: Path, make: str, words: str) -> None:
    labels = tmp_path / "labels"
    if make != "missing":
        labels.mkdir()
    if make == "other":
        (labels / "notes.txt").write_text("x")
    _one_line(_render(labels, tmp_path / "out"), "labels", words)
    assert not (tmp_path / "out").exists()


# ----- report: results tables and montage inputs -----
@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("scored")
    catalog, pred, df = _dataset(root)
    df.to_csv(root / "results.csv", index=False)
    return {"root": root, "catalog": catalog, "pred": pred, "results": root / "results.csv"}


def _report(tmp_path: Path, *args: object) -> tuple[object, Path]:
    out = tmp_path / "rep" / "report.html"
    res = runner.invoke(app, ["report", *map(str, args), "-o", str(out), "--n-boot", "50", "--n-rank-boot", "20"])
    return res, out


def _nothing_written(out: Path) -> None:
    assert not out.parent.exists() or not any(out.parent.iterdir())


def _results_variant(scored: dict[str, Path], tmp_path: Path, kind: str) -> tuple[Path, list[str]]:
    if kind in ("empty folder", "folder"):
        d = tmp_path / "results"
        d.mkdir()
        if kind == "folder":
            (d / "a.csv").write_bytes(scored["results"].read_bytes())
        return d, ["is a folder, not a results CSV", "holds no CSV" if kind == "empty folder" else "a.csv"]
    path = tmp_path / "r.csv"
    df = pd.read_csv(scored["results"])
    if kind == "missing":
        return path, ["does not exist"]
    if kind == "zero bytes":
        path.write_bytes(b"")
        return path, ["not a readable CSV"]
    df["dice"] = df["dice"].astype(object)
    df.loc[1, "dice"] = "high" if kind == "text dice" else 85.0
    df.to_csv(path, index=False)
    return path, ["line 3", "not a number" if kind == "text dice" else "outside [0, 1]"]


@pytest.mark.parametrize("kind", ["empty folder", "folder", "missing", "zero bytes", "text dice", "percent dice"])
def test_report_refuses_bad_results(scored: dict[str, Path], tmp_path: Path, kind: str) -> None:
    path, words = _results_variant(scored, tmp_path, kind)
    res, out = _report(tmp_path, path)
    _one_line(res, path.name, *words)
    _nothing_written(out)


@pytest.mark.parametrize(("kind", "words"), [
    ("no catalog", "--catalog does not exist"), ("no pred dir", "--pred-dir does not exist"),
    ("pred dir is a file", "--pred-dir is not a folder"), ("empty pred dir", "holds no <case_id>.nii.gz"),
    ("unknown method", "--montage-method 'nope' is not in the results")])
def test_report_refuses_bad_montage_inputs(scored: dict[str, Path], tmp_path: Path, kind: str, words: str) -> None:
    catalog, pred, extra = scored["catalog"], scored["pred"], []
    if kind == "no catalog":
        catalog = tmp_path / "nope.csv"
    elif kind == "no pred dir":
        pred = tmp_path / "nope"
    elif kind == "pred dir is a file":
        pred = scored["results"]
    elif kind == "empty pred dir":
        pred = tmp_path / "empty"
        pred.mkdir()
    else:
        extra = ["--montage-method", "nope"]
    res, out = _report(tmp_path, scored["results"], "--catalog", catalog, "--pred-dir", pred, *extra)
    _one_line(res, words)
    _nothing_written(out)


def test_report_refuses_a_truncated_montage_prediction(scored: dict[str, Path], tmp_path: Path) -> None:
    pred = tmp_path / "pred"
    pred.mkdir()
    for f in scored["pred"].iterdir():
        data = f.read_bytes()
        (pred / f.name).write_bytes(data[: len(data) // 2])
    res, out = _report(tmp_path, scored["results"], "--catalog", scored["catalog"], "--pred-dir", pred)
    _one_line(res, ".nii.gz", "truncated")
    _nothing_written(out)
