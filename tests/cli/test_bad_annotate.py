"""Issue 18, part of the bad-input corpus: the one gate where data enters ``export nnunet`` and ``annotate``
(catalog rows, annotators' masks): exit 2, one line naming the file, the problem and the fix, nothing written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.data.io import ImageProperties, write_image
from tests.annotate.test_annotate import P, truth
from tests.cli.test_bad_inputs import _manifest, _nan_image, _truncate

runner = CliRunner()


def _one_line(res: object, *words: str) -> None:
    text = " ".join(res.output.split())  # type: ignore[attr-defined]
    assert res.exit_code == 2 and "Traceback" not in text, text  # type: ignore[attr-defined]
    assert text.count("error:") == 1 and "Fix:" in text and all(w in text for w in words), text


# ----- export nnunet and annotate assign read the dataset through the same gate -----
DATASET = [("nan", "img1.nii.gz", "NaN/Inf"), ("truncated", "lbl1.nii.gz", "truncated"),
           ("unsafe", "img0.nii.gz", "unsafe case ID")]


def _damaged(tmp_path: Path, kind: str) -> Path:
    m = _manifest(tmp_path / "ds", n=4, **({"case_id": "../x_T1"} if kind == "unsafe" else {}))
    if kind == "nan":
        _nan_image(tmp_path / "ds" / "img1.nii.gz")
    elif kind == "truncated":
        _truncate(tmp_path / "ds" / "lbl1.nii.gz")
    return m


@pytest.mark.parametrize(("kind", "name", "words"), DATASET, ids=[d[0] for d in DATASET])
def test_export_refuses_a_bad_dataset(tmp_path: Path, kind: str, name: str, words: str) -> None:
    m = _damaged(tmp_path, kind)
    splits = tmp_path / "s.json"
    splits.write_text(json.dumps({"splits": [{"name": "s0", "train": ["A_0001_T1", "A_0002_T1"],
                                              "val": ["A_0003_T1"], "test": []}]}))
    res = runner.invoke(app, ["export", "nnunet", str(m), "--splits", str(splits), "-o", str(tmp_path / "nn")])
    _one_line(res, name, words)
    assert not (tmp_path / "nn").exists()


@pytest.mark.parametrize(("kind", "name", "words"), DATASET, ids=[d[0] for d in DATASET])
def test_assign_refuses_a_bad_dataset(tmp_path: Path, kind: str, name: str, words: str) -> None:
    m = _damaged(tmp_path, kind)
    res = runner.invoke(app, ["annotate", "assign", str(m), "--annotators", "a,b", "-o", str(tmp_path / "as")])
    _one_line(res, name, words)
    assert not (tmp_path / "as").exists()


# ----- annotators' masks: compare and consensus -----
def _values2(f: Path) -> str:
    write_image(truth().astype(np.uint8) * 2, P, f)
    return "mask values outside {0,1}: 2"


def _soft(f: Path) -> str:
    write_image(truth().astype(np.float32) * 0.6, P, f)
    return "mask values outside {0,1}: 0.6"


def _shape(f: Path) -> str:
    write_image(truth()[:20].astype(np.uint8), ImageProperties((20, 32, 32), P.spacing, P.origin, P.direction), f)
    return "mask shape (20, 32, 32) differs"


def _trunc(f: Path) -> str:
    _truncate(f)
    return "truncated"


def _nan(f: Path) -> str:
    _nan_image(f)
    return "NaN/Inf"


MASKS: list[Callable[[Path], str]] = [_values2, _soft, _shape, _trunc, _nan]


@pytest.mark.parametrize("damage", MASKS, ids=[f.__name__.strip("_") for f in MASKS])
@pytest.mark.parametrize("command", ["compare", "consensus"])
def test_annotate_refuses_a_bad_mask(tmp_path: Path, command: str, damage: Callable[[Path], str]) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        for code in ("c1", "c2"):
            write_image(truth().astype(np.uint8), P, d / f"{code}.nii.gz")
    words = damage(b / "c2.nii.gz")
    out = tmp_path / ("agree.csv" if command == "compare" else "cons")
    extra = ["--method", "majority"] if command == "consensus" else []
    res = runner.invoke(app, ["annotate", command, str(a), str(b), *extra, "-o", str(out)])
    _one_line(res, "c2.nii.gz", words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
