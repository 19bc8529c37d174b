"""The bad-input corpus of issue 18, generated at test time: each case asserts the exit code, the words of the
one-line message, and that nothing was written outside (or half-written inside) the output folder."""

from __future__ import annotations

import csv
import gzip
import json
import pickle
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import data_builders as db
from crosspan.cli.main import app
from crosspan.data.io import ImageProperties, read_image, write_image
from tests.data.test_io import _dicom_series

runner = CliRunner()
FIELDS = ["case_id", "patient_id", "center", "sequence", "image", "label", "split"]


def _cli(*args: object) -> object:
    res = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in res.output, res.output
    return res


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")} if root.exists() else set()


def _manifest(root: Path, n: int = 3, **override: str) -> Path:
    """``n`` labelled scans and a manifest; ``override`` replaces fields of the first row."""
    rows = []
    for i in range(n):
        db.write_pair(root / f"img{i}.nii.gz", root / f"lbl{i}.nii.gz", i)
        rows.append({"case_id": f"A_{i:04d}_T1", "patient_id": f"p{i}", "center": "A", "sequence": "T1",
                     "image": f"img{i}.nii.gz", "label": f"lbl{i}.nii.gz", "split": "train"})
    rows[0].update(override)
    path = root / "manifest.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    return path


# ----- security: S1-S4 -----
@pytest.mark.parametrize("case_id", ["../../evil_T1", "/abs/path/PWN_T1", "a b", "x/../y"])
def test_s1_unsafe_case_ids_stop_every_reader(tmp_path: Path, case_id: str) -> None:
    m = _manifest(tmp_path / "ds", case_id=case_id)
    res = _cli("data", "check", m)
    assert res.exit_code == 1 and "unsafe case ID" in res.output and "Fix:" in res.output
    res = _cli("preprocess", m, "-o", tmp_path / "plan")
    assert res.exit_code == 2 and "unsafe case ID" in res.output
    assert not (tmp_path / "plan").exists() and not list(tmp_path.rglob("*evil*")) and not Path("/abs").exists()


def test_s1_predict_refuses_unsafe_ids_in_a_catalog(tmp_path: Path, run: dict[str, Path]) -> None:
    text = run["catalog"].read_text().replace("case3,", "../../PWN_T1,", 1)
    (run["root"] / "data" / "evil.csv").write_text(text)
    res = _cli("predict", run["run"], run["root"] / "data" / "evil.csv", "-o", tmp_path / "pred", "--cases", "all")
    assert res.exit_code == 2 and "unsafe case ID" in res.output
    assert not list(tmp_path.rglob("*PWN*")) and not list(run["root"].rglob("PWN*"))


def test_s2_dicom_mapping_case_id_cannot_escape(tmp_path: Path) -> None:
    _dicom_series(tmp_path / "dicom" / "s")
    (tmp_path / "map.csv").write_text("patient_id_original,case_id\nMRN-998877,../../ESCAPED\n")
    res = _cli("data", "dicom", tmp_path / "dicom", "-o", tmp_path / "out", "--mapping", tmp_path / "map.csv")
    assert res.exit_code == 2 and "map.csv" in res.output and "unsafe case ID" in res.output
    assert not (tmp_path / "out").exists() and not list(tmp_path.parent.rglob("ESCAPED*"))


def test_s3_symlink_out_of_the_dataset_is_flagged(tmp_path: Path) -> None:
    root = db.crosspan_release(tmp_path / "ds", centers=("A",), sequences=("T1",), per_center=2)
    outside = tmp_path / "secret.nii.gz"
    db.write_pair(outside, None, 5)
    img = root / "T1" / "train" / "images" / "A_0000_0000.nii.gz"
    img.unlink()
    img.symlink_to(outside)
    res = _cli("data", "check", root)
    assert res.exit_code == 1 and "symlink" in res.output and "--allow-outside-links" in res.output
    assert _cli("data", "check", root, "--allow-outside-links").exit_code == 0


def test_s4_manifest_paths_outside_the_root_stop_catalog_and_preprocess(tmp_path: Path) -> None:
    db.write_pair(tmp_path / "outside.nii.gz", None, 9)
    m = _manifest(tmp_path / "ds", image="../outside.nii.gz")
    for args in (("data", "catalog", m, "-o", tmp_path / "ds" / "cat.csv"), ("preprocess", m, "-o", tmp_path / "p")):
        res = _cli(*args)
        assert res.exit_code == 2 and "escapes the dataset root" in res.output, res.output
    assert not (tmp_path / "ds" / "cat.csv").exists() and not (tmp_path / "p").exists()


# ----- wrong results: W1-W11 -----
def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])


def _nan_image(path: Path) -> None:
    arr, p = read_image(path)
    arr = arr.astype(np.float32)
    arr[1, 2, 3] = np.nan
    write_image(arr, p, path)


@pytest.mark.parametrize(("damage", "words"), [(_truncate, "truncated"), (_nan_image, "NaN/Inf")])
def test_w1_w11_evaluate_refuses_a_broken_prediction(tmp_path: Path, damage: object, words: str) -> None:
    m = _manifest(tmp_path / "ds", n=2)
    pred = tmp_path / "pred"
    for i in range(2):
        lbl, p = read_image(tmp_path / "ds" / f"lbl{i}.nii.gz")
        write_image(lbl, p, pred / f"A_{i:04d}_T1.nii.gz")
    damage(pred / "A_0000_T1.nii.gz")
    res = _cli("evaluate", m, "--pred", pred, "--method", "x", "--cases", "all", "-o", tmp_path / "r.csv")
    assert res.exit_code == 2 and words in res.output and "A_0000_T1" in res.output
    assert not (tmp_path / "r.csv").exists()


@pytest.mark.parametrize(("damage", "words"), [(_truncate, "truncated"), (_nan_image, "NaN/Inf")])
def test_w2_w10_predict_refuses_a_broken_image(tmp_path: Path, run: dict[str, Path], damage: object,
                                               words: str) -> None:
    img = tmp_path / "in" / "x.nii.gz"
    img.parent.mkdir()
    img.write_bytes((run["root"] / "data" / "case0.nii.gz").read_bytes())
    damage(img)
    res = _cli("predict", run["run"], img, "-o", tmp_path / "pred")
    assert res.exit_code == 2 and words in res.output and "x.nii.gz" in res.output
    assert not list((tmp_path / "pred").glob("*.nii.gz")) if (tmp_path / "pred").exists() else True


def test_w10_preprocess_refuses_nan_voxels(tmp_path: Path) -> None:
    m = _manifest(tmp_path / "ds")
    _nan_image(tmp_path / "ds" / "img1.nii.gz")
    res = _cli("preprocess", m, "-o", tmp_path / "plan")
    assert res.exit_code == 2 and "NaN/Inf" in res.output and "img1" in res.output
    assert not (tmp_path / "plan").exists()


def _nifti_with_pixdim(path: Path, spacing: tuple[float, float, float], zero_axis: int, sform: bool) -> None:
    aff = np.diag([*spacing, 1.0])
    img = nib.Nifti1Image(np.ones((16, 16, 8), np.float32), aff)
    img.header.set_sform(aff if sform else None, 1 if sform else 0)
    img.header.set_qform(None, 0)
    nib.save(img, str(path))
    raw = bytearray(gzip.decompress(path.read_bytes()))  # nibabel rewrites a zero pixdim as 1: patch the bytes
    raw[80 + 4 * zero_axis:84 + 4 * zero_axis] = np.float32(0.0).tobytes()
    if not sform:
        raw[252:256] = np.zeros(2, np.int16).tobytes()  # qform_code, sform_code = 0
    path.write_bytes(gzip.compress(bytes(raw)))


def test_w3_zero_pixdim_takes_geometry_from_the_sform(tmp_path: Path) -> None:
    path = tmp_path / "a.nii.gz"
    _nifti_with_pixdim(path, (1.5, 1.5, 4.17), 2, sform=True)
    with pytest.warns(UserWarning, match="geometry taken from the sform"):
        _, p = read_image(path)
    assert p.spacing == pytest.approx((4.17, 1.5, 1.5), rel=1e-4)


def test_m1_zero_spacing_without_sform_names_the_reason(tmp_path: Path) -> None:
    m = _manifest(tmp_path / "ds")
    _nifti_with_pixdim(tmp_path / "ds" / "img0.nii.gz", (1.5, 1.5, 4.0), 2, sform=False)
    res = _cli("data", "check", m)
    assert res.exit_code == 1 and "pixdim" in res.output and "no sform" in res.output


@pytest.mark.parametrize(("positions", "words"), [
    ([0, 4, 8, 14, 18], "uneven slice spacing"), ([0, 4, 12, 16, 20], "missing slice"),
    ([0, 4, 4, 8, 12], "duplicate slice position")])
def test_w4_dicom_slice_positions_are_checked(tmp_path: Path, positions: list[float], words: str) -> None:
    import pydicom

    series = tmp_path / "dicom" / "series7"
    _dicom_series(series)
    for f, z in zip(sorted(series.iterdir()), positions, strict=True):
        ds = pydicom.dcmread(f)
        ds.ImagePositionPatient = [0.0, 0.0, float(z)]
        ds.save_as(f)
    res = _cli("data", "dicom", tmp_path / "dicom", "-o", tmp_path / "out", "--salt", "s")
    assert res.exit_code == 2 and words in res.output and "series7" in res.output
    assert not (tmp_path / "out").exists()


def test_w5_float_labels_are_named_and_mappable(tmp_path: Path) -> None:
    m = _manifest(tmp_path / "ds")
    lbl, p = read_image(tmp_path / "ds" / "lbl0.nii.gz")
    write_image(lbl.astype(np.float32) * 0.5, p, tmp_path / "ds" / "lbl0.nii.gz")
    res = _cli("data", "check", m)
    assert res.exit_code == 1 and "outside {0,1}: 0.5" in res.output
    res = _cli("preprocess", m, "-o", tmp_path / "plan")
    assert res.exit_code == 2 and "0.5" in res.output and "crosspan data check" in res.output
    assert not (tmp_path / "plan").exists()
    res = _cli("data", "check", m, "--label-map", "0.5:1", "-o", tmp_path / "fixed")
    assert res.exit_code == 0, res.output
    fixed, _ = read_image(tmp_path / "fixed" / "labels" / "A_0000_T1.nii.gz")
    assert set(np.unique(fixed)) == {0, 1}
    assert not any(p.is_symlink() for p in (tmp_path / "fixed").rglob("*"))


def test_w6_t1_manifest_encodings(tmp_path: Path) -> None:
    m = _manifest(tmp_path / "ds")
    m.write_bytes(b"\xef\xbb\xbf" + m.read_bytes())
    assert _cli("data", "check", m).exit_code == 0
    m.write_bytes(m.read_bytes()[3:].replace(b"p1", "Zürich".encode("latin-1")))
    res = _cli("data", "check", m)
    assert res.exit_code == 2 and "not UTF-8" in res.output and "line 3" in res.output


def test_crosspan_root_manifest_with_bare_case_names(tmp_path: Path) -> None:
    root = db.crosspan_release(tmp_path / "ds", centers=("A",), sequences=("T1", "T2"), per_center=2)
    (root / "manifest.csv").write_text("case_id,patient_id,center,sequence\nA_0000,PX,H1,T1\nA_0000,PX,H1,T2\n")
    res = _cli("data", "catalog", root, "-o", tmp_path / "cat.csv")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((tmp_path / "cat.csv").open()))
    assert {r["patient_id"] for r in rows if r["case_id"].startswith("A_0000")} == {"PX"}
    (root / "manifest.csv").write_text("case_id,patient_id,center\nNOPE_1,PX,H1\n")
    res = _cli("data", "catalog", root, "-o", tmp_path / "cat2.csv")
    assert res.exit_code == 0 and "warning:" in res.output and "matches a scan" in res.output


# ----- training options: W7-W9, T6, M5 -----
@pytest.mark.parametrize(("args", "words"), [
    (["--hp", "lr=nan"], "not a finite number"), (["--hp", "lr=-1"], "must be > 0"),
    (["--steps", "0"], "--steps 0"), (["--steps", "-5"], "at least 1"), (["--batch-size", "0"], "--batch-size"),
    (["--patch", "7,x"], "three integers"), (["--patch", "13,13,13"], "multiple of 8"),
    (["--method", "randconv", "--hp", "p=7"], "in [0, 1]"), (["--method", "nope"], "unknown method"),
    (["--hp", "nope=1"], "no hyperparameter")])
def test_w7_w8_t6_m5_training_options(tmp_path: Path, run: dict[str, Path], args: list[str], words: str) -> None:
    res = _cli("train", run["plan"], "-o", tmp_path / "r", *args)
    assert res.exit_code == 2 and words in res.output, res.output
    assert not (tmp_path / "r").exists()


def test_m5_patch_larger_than_every_image_warns(tmp_path: Path, run: dict[str, Path]) -> None:
    res = _cli("train", run["plan"], "-o", tmp_path / "r", "--steps", "1", "--patch", "64,64,64", "--threads", "1")
    assert res.exit_code == 0 and "warning:" in res.output and "larger than every" in " ".join(res.output.split())


@pytest.mark.parametrize(("args", "words"), [(["--method", "vrex"], "--method vrex"), (["--seed", "3"], "--seed 3"),
                                             (["--network", "nnunet"], "--network nnunet"),
                                             (["--steps", "1"], "fewer than")])
def test_w9_resume_refuses_a_changed_run(run: dict[str, Path], args: list[str], words: str) -> None:
    before = (run["run"] / "model.json").read_text()
    res = _cli("train", run["plan"], "-o", run["run"], "--resume", "--threads", "1", *args)
    assert res.exit_code == 2 and words in res.output
    assert (run["run"] / "model.json").read_text() == before


def test_w9_resume_extends_steps(tmp_path: Path, run: dict[str, Path]) -> None:
    import shutil

    r = tmp_path / "run"
    shutil.copytree(run["run"], r)
    res = _cli("train", run["plan"], "-o", r, "--resume", "--steps", "4", "--threads", "1")
    assert res.exit_code == 0, res.output
    steps = [json.loads(line)["step"] for line in (r / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4] and json.loads((r / "model.json").read_text())["steps"] == 4


# ----- tracebacks: T2-T5, T7 -----
def test_t2_a_4d_image_in_a_catalog_stops_preprocess(tmp_path: Path, run: dict[str, Path]) -> None:
    four = tmp_path / "four.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((24, 24, 24, 2), np.float32), np.eye(4)), str(four))
    text = run["catalog"].read_text().replace(str(run["root"] / "data" / "case1.nii.gz"), str(four))
    (tmp_path / "cat.csv").write_text(text)
    res = _cli("preprocess", tmp_path / "cat.csv", "-o", tmp_path / "plan")
    assert res.exit_code == 2 and "4D" in res.output and "3D volume" in res.output
    assert not (tmp_path / "plan").exists()


def test_t3_predict_on_a_2d_image(tmp_path: Path, run: dict[str, Path]) -> None:
    flat = tmp_path / "flat.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((24, 24), np.float32), np.eye(4)), str(flat))
    res = _cli("predict", run["run"], flat, "-o", tmp_path / "pred")
    assert res.exit_code == 2 and "2D" in res.output


class _Boom:
    def __reduce__(self) -> tuple:
        return (Path.touch, (Path("/tmp/crosspan_pwned_marker"),))


@pytest.mark.parametrize("kind", ["malicious", "truncated", "empty"])
def test_t4_t5_bad_weights_give_one_line(tmp_path: Path, run: dict[str, Path], kind: str) -> None:
    import shutil

    r = tmp_path / "run"
    shutil.copytree(run["run"], r)
    weights = r / "model_final.pt"
    if kind == "malicious":
        torch.save({"x": _Boom()}, weights, pickle_protocol=pickle.HIGHEST_PROTOCOL)
    elif kind == "truncated":
        weights.write_bytes(weights.read_bytes()[:200])
    else:
        weights.write_bytes(b"")
    res = _cli("predict", r, run["root"] / "data" / "case0.nii.gz", "-o", tmp_path / "pred")
    assert res.exit_code == 2 and "model_final.pt" in res.output and "Aborted" not in res.output
    assert "weights_only" not in res.output and "Weights only" not in res.output
    assert ("empty" if kind == "empty" else "unloadable checkpoint") in res.output
    assert not Path("/tmp/crosspan_pwned_marker").exists()


def test_t7_output_is_an_existing_file(tmp_path: Path) -> None:
    m = _manifest(tmp_path / "ds")
    (tmp_path / "plan").write_text("not a folder")
    res = _cli("preprocess", m, "-o", tmp_path / "plan")
    assert res.exit_code != 0 and "plan" in res.output and "Fix:" in res.output
    assert (tmp_path / "plan").read_text() == "not a folder"


# ----- weak messages: M2-M6 -----
def test_m2_implausible_slice_spacing_warns(tmp_path: Path) -> None:
    m = _manifest(tmp_path / "ds", n=1)
    img, p = read_image(tmp_path / "ds" / "img0.nii.gz")
    big = ImageProperties(p.shape, (100.0, 1.5, 1.5), p.origin, p.direction)
    write_image(img, big, tmp_path / "ds" / "img0.nii.gz")
    res = _cli("data", "catalog", m, "-o", tmp_path / "c.csv")
    assert "warning:" in res.output and "implausible" in res.output


@pytest.mark.parametrize(("field", "value", "words"), [("image", "", "empty 'image'"),
                                                       ("sequence", "", "empty 'sequence'")])
def test_m3_m6_empty_fields_name_the_line(tmp_path: Path, field: str, value: str, words: str) -> None:
    m = _manifest(tmp_path / "ds", **{field: value})
    res = _cli("data", "catalog", m, "-o", tmp_path / "c.csv")
    assert res.exit_code == 2 and words in res.output and "line 2" in res.output
    assert not (tmp_path / "c.csv").exists()


def test_m6_unknown_sequence_warns(tmp_path: Path) -> None:
    m = _manifest(tmp_path / "ds", sequence="FLAIR")
    res = _cli("data", "catalog", m, "-o", tmp_path / "c.csv")
    assert res.exit_code == 0 and "warning:" in res.output and "FLAIR" in res.output


def test_m4_label_255_names_a_real_fix_and_leaves_no_cache(tmp_path: Path) -> None:
    m = _manifest(tmp_path / "ds")
    lbl, p = read_image(tmp_path / "ds" / "lbl2.nii.gz")
    write_image(lbl * 255, p, tmp_path / "ds" / "lbl2.nii.gz")
    res = _cli("preprocess", m, "-o", tmp_path / "plan")
    assert res.exit_code == 2 and "255" in res.output and "crosspan data check" in res.output
    assert "data catalog --label-map" not in res.output and not (tmp_path / "plan").exists()


# ----- the CLI-wide handler -----
def test_unexpected_errors_are_one_line_with_a_debug_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import crosspan.data.catalog as catalog

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaboom\nsecond line")

    monkeypatch.setattr(catalog, "build_catalog", boom)
    m = _manifest(tmp_path / "ds", n=1)
    res = _cli("data", "catalog", m, "-o", tmp_path / "c.csv")
    assert res.exit_code == 1 and "crosspan data catalog: unexpected RuntimeError: kaboom" in res.output
    assert "--debug" in res.output and "second line" not in res.output
    res = runner.invoke(app, ["--debug", "data", "catalog", str(m), "-o", str(tmp_path / "c.csv")])
    assert isinstance(res.exception, RuntimeError)
    res = runner.invoke(app, ["data", "catalog", str(m), "--debug", "-o", str(tmp_path / "c.csv")])
    assert isinstance(res.exception, RuntimeError)


def test_gzip_is_really_truncated_not_just_short(tmp_path: Path) -> None:
    """Guard for the corpus itself: the truncated file still starts as a valid gzip stream."""
    m = _manifest(tmp_path / "ds", n=1)
    path = m.parent / "img0.nii.gz"
    _truncate(path)
    with pytest.raises(EOFError), gzip.open(path) as fh:
        fh.read()
