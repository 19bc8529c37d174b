"""The bad-input corpus: every problem gives one line naming the file, the problem and the fix; exit 1; no output."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import data_builders as db
from crosspan.cli.main import app
from crosspan.data.io import read_image, write_image

runner = CliRunner()


def _dataset(tmp_path: Path) -> Path:
    return db.crosspan_release(tmp_path / "ds", centers=("A",), sequences=("T1",), per_center=4)


def _label(root: Path, case: str = "A_0000", split: str = "train") -> Path:
    return root / "T1" / split / "labels" / f"{case}.nii.gz"


def _image(root: Path, case: str = "A_0000", split: str = "train") -> Path:
    return root / "T1" / split / "images" / f"{case}_0000.nii.gz"


def truncated(root: Path) -> str:
    path = _image(root)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return "unreadable or truncated"


def shape_mismatch(root: Path) -> str:
    write_image(np.zeros((8, 16, 12), np.uint8), db.props(shape=(8, 16, 12)), _label(root))
    return "label shape"


def header_only(root: Path) -> str:
    lbl, p = read_image(_label(root))
    p.origin = (5.0, 2.0, 1.0)
    write_image(lbl, p, _label(root))
    return "--fix-label-geometry"


def values_255(root: Path) -> str:
    lbl, p = read_image(_label(root))
    write_image((lbl * 255).astype(np.uint8), p, _label(root))
    return "--label-map 255:1"


def empty_label(root: Path) -> str:
    lbl, p = read_image(_label(root))
    write_image(np.zeros_like(lbl), p, _label(root))
    return "label is empty"


def nan_voxels(root: Path) -> str:
    img, p = read_image(_image(root))
    img[0, 0, :3] = np.nan
    write_image(img, p, _image(root))
    return "NaN/Inf"


def two_d(root: Path) -> str:
    img, p = read_image(_image(root))
    from crosspan.data.io import ImageProperties

    p2 = ImageProperties(shape=(16, 16), spacing=(1.5, 1.5), origin=(0.0, 0.0), direction=(1, 0, 0, 1))
    write_image(img[0], p2, _image(root))
    return "2D"


def four_d(root: Path) -> str:
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(np.zeros((2, 8, 16, 16), np.float32), isVector=False)
    sitk.WriteImage(img, str(_image(root)))
    return "4D"


def missing_label(root: Path) -> str:
    _label(root).unlink()
    return "has no label"


def duplicate_ids(root: Path) -> str:
    # the same case in two splits yields the same case ID twice
    shutil.copy(_image(root), _image(root, split="test"))
    shutil.copy(_label(root), _label(root, split="test"))
    return "duplicate case ID"


CASES = [truncated, shape_mismatch, header_only, values_255, empty_label, nan_voxels, two_d, four_d, missing_label,
         duplicate_ids]


@pytest.mark.parametrize("corrupt", CASES, ids=[c.__name__ for c in CASES])
def test_bad_input_gives_message_exit_and_no_output(tmp_path: Path, corrupt) -> None:
    root = _dataset(tmp_path)
    expected = corrupt(root)
    out = tmp_path / "fixed"
    result = runner.invoke(app, ["data", "check", str(root), "-o", str(out), "--workers", "1"])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert expected in text
    assert "Fix:" in text
    assert not out.exists()


def test_manifest_path_escaping_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside.nii.gz"
    db.write_pair(outside, None, 1)
    rows = [{"case_id": "a", "patient_id": "p", "center": "H", "sequence": "T1", "image": "../outside.nii.gz",
             "label": "", "split": ""}]
    path = db.manifest(tmp_path / "m", rows)
    result = runner.invoke(app, ["data", "check", str(path), "--no-require-labels"])
    assert result.exit_code == 1
    assert "escapes the dataset root" in " ".join(result.output.split())


def test_mixed_orientation_is_a_warning_only(tmp_path: Path) -> None:
    root = _dataset(tmp_path)
    for path in (_image(root), _label(root)):
        arr, p = read_image(path)
        p.direction = (1, 0, 0, 0, -1, 0, 0, 0, 1)
        write_image(arr, p, path)
    result = runner.invoke(app, ["data", "check", str(root), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "mixed orientations" in result.output


def test_fixes_write_a_corrected_dataset(tmp_path: Path) -> None:
    root = _dataset(tmp_path)
    values_255(root)
    header_only(root)
    out = tmp_path / "fixed"
    result = runner.invoke(app, ["data", "check", str(root), "--label-map", "255:1", "--fix-label-geometry",
                                 "-o", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, ["data", "check", str(out / "manifest.csv"), "--workers", "1"])
    assert again.exit_code == 0, again.output
    lbl, p = read_image(out / "labels" / "A_0000_T1.nii.gz")
    img_p = read_image(_image(root))[1]
    assert set(np.unique(lbl)) == {0, 1} and p.same_geometry(img_p)


def test_gzip_corruption_detected_quickly(tmp_path: Path) -> None:
    root = _dataset(tmp_path)
    path = _image(root)
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:400]))
    result = runner.invoke(app, ["data", "check", str(root), "--workers", "1"])
    assert result.exit_code == 1
    assert str(path.name) in result.output.replace("\n", "")
