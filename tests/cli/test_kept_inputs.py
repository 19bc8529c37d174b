"""Issue 18, the cases of the trial that were already handled well, kept so that a regression fails here.

Most of the 69 are covered where their stage is tested (docs/validation.md lists which test covers which); this
file adds the ones nothing else exercised through the CLI: NIfTI problems of a manifest dataset named by
``data check``, DICOM ingestion through the CLI carrying no PHI, malicious or broken checkpoints refused on
``train --resume``, kill -9 + resume of ``preprocess`` bit-exact, and training deterministic by seed.
"""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.data.io import read_image, write_image
from tests.cli.conftest import TRAIN_ARGS
from tests.cli.test_bad_inputs import _manifest
from tests.data.test_io import _dicom_series
from toy_scans import toy_dataset

runner = CliRunner()
CLI = [sys.executable, "-c", "from crosspan.cli.main import app; app()"]


def _text(res: object) -> str:
    text = " ".join(res.output.split())  # type: ignore[attr-defined]
    assert "Traceback" not in text, text
    return text


# ----- data check names each NIfTI problem of a manifest dataset -----
def _missing_image(d: Path) -> tuple[str, str]:
    (d / "img1.nii.gz").unlink()
    return "img1.nii.gz", "file does not exist"


def _truncated_label(d: Path) -> tuple[str, str]:
    data = (d / "lbl1.nii.gz").read_bytes()
    (d / "lbl1.nii.gz").write_bytes(data[: len(data) // 2])
    return "lbl1.nii.gz", "truncated"


def _nan_label(d: Path) -> tuple[str, str]:
    lbl, p = read_image(d / "lbl1.nii.gz")
    lbl = lbl.astype(np.float32)
    lbl[0, 0, 0] = np.nan
    write_image(lbl, p, d / "lbl1.nii.gz")
    return "lbl1.nii.gz", "NaN/Inf"


def _text_as_image(d: Path) -> tuple[str, str]:
    (d / "img1.nii.gz").write_bytes(gzip.compress(b"not an image at all\n" * 20))
    return "img1.nii.gz", "unreadable"


def _four_d_label(d: Path) -> tuple[str, str]:
    nib.save(nib.Nifti1Image(np.zeros((16, 16, 8, 2), np.uint8), np.eye(4)), str(d / "lbl1.nii.gz"))
    return "lbl1.nii.gz", "4D"


NIFTI: list[Callable[[Path], tuple[str, str]]] = [_missing_image, _truncated_label, _nan_label, _text_as_image,
                                                  _four_d_label]


@pytest.mark.parametrize("damage", NIFTI, ids=[f.__name__.strip("_") for f in NIFTI])
def test_check_names_each_nifti_problem(tmp_path: Path, damage: Callable[[Path], tuple[str, str]]) -> None:
    m = _manifest(tmp_path / "ds")
    name, words = damage(tmp_path / "ds")
    res = runner.invoke(app, ["data", "check", str(m), "--workers", "1", "--label-map", "2:0", "-o",
                              str(tmp_path / "fixed")])
    text = _text(res)
    assert res.exit_code == 1 and name in text and words in text and "Fix:" in text, text
    assert not (tmp_path / "fixed").exists()


# ----- DICOM through the CLI: no PHI in any output, nor on the terminal -----
def test_dicom_cli_output_carries_no_phi(tmp_path: Path) -> None:
    phi = _dicom_series(tmp_path / "dicom" / "series1")
    out = tmp_path / "out"
    res = runner.invoke(app, ["data", "dicom", str(tmp_path / "dicom"), "-o", str(out), "--salt", "s3cret",
                              "--center", "H1"])
    assert res.exit_code == 0, res.output
    blob = res.output.encode()
    for f in (p for p in out.rglob("*") if p.is_file()):
        blob += gzip.decompress(f.read_bytes()) if f.name.endswith(".gz") else f.read_bytes()
    assert len(list(out.rglob("*.nii.gz"))) == 1
    for value in (*phi.values(), "MRN", "Doe"):
        assert value.encode() not in blob, value


# ----- checkpoints: nothing unsafe is executed on --resume either -----
class _Boom:
    def __reduce__(self) -> tuple:
        return (Path.touch, (Path("/tmp/crosspan_resume_pwned"),))


@pytest.mark.parametrize("kind", ["malicious", "truncated", "empty"])
def test_resume_refuses_a_bad_checkpoint(tmp_path: Path, run: dict[str, Path], kind: str) -> None:
    r = tmp_path / "run"
    shutil.copytree(run["run"], r)
    (r / "model_final.pt").unlink()
    ck = r / "checkpoint_last.pt"
    if kind == "malicious":
        torch.save({"step": 1, "x": _Boom()}, ck, pickle_protocol=pickle.HIGHEST_PROTOCOL)
    else:
        ck.write_bytes(ck.read_bytes()[:200] if kind == "truncated" else b"")
    before = {p: p.read_bytes() for p in r.iterdir() if p.is_file()}
    res = runner.invoke(app, ["train", str(run["plan"]), "-o", str(r), "--resume", *TRAIN_ARGS])
    text = _text(res)
    assert res.exit_code == 2 and "checkpoint_last.pt" in text and "Fix:" in text, text
    assert "weights_only" not in text and ("empty" if kind == "empty" else "unloadable checkpoint") in text
    assert not Path("/tmp/crosspan_resume_pwned").exists()
    assert {p: p.read_bytes() for p in r.iterdir() if p.is_file()} == before and not (r / "model_final.pt").exists()


# ----- kill -9 + resume of preprocess gives the uninterrupted cache bit for bit -----
def _cache(plan: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((plan / "cache").glob("*.npy"))}


def test_preprocess_kill9_then_rerun_is_bit_exact(tmp_path: Path) -> None:
    cat = toy_dataset(tmp_path / "data", n=8, shape=(32, 40, 40), splits=("train",) * 6 + ("val", "test"))
    args = ["preprocess", str(cat), "--train-domains", "A:T1,B:T1", "--workers", "1"]
    ref = runner.invoke(app, [*args, "-o", str(tmp_path / "ref")])
    assert ref.exit_code == 0, ref.output
    plan = tmp_path / "killed"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([*CLI, *args, "-o", str(plan)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline and not list((plan / "cache").glob("*_seg.npy")):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = _cache(plan) if (plan / "cache").is_dir() else {}
    assert not (plan / "plan.json").exists() or len(partial) == len(_cache(tmp_path / "ref"))
    again = subprocess.run([*CLI, *args, "-o", str(plan)], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert _cache(plan) == _cache(tmp_path / "ref")
    assert all(partial[k] == v for k, v in _cache(plan).items() if k in partial)  # kept cases are unchanged
    assert not list(plan.rglob(".*"))  # the killed run's temporary files are gone


# ----- training is deterministic by seed -----
def test_training_is_deterministic_by_seed(tmp_path: Path, run: dict[str, Path]) -> None:
    for name, seed in (("same", "0"), ("other", "1")):
        res = runner.invoke(app, ["train", str(run["plan"]), "-o", str(tmp_path / name), *TRAIN_ARGS,
                                  "--seed", seed])
        assert res.exit_code == 0, res.output
    ref = torch.load(run["run"] / "model_final.pt", weights_only=True)
    same = torch.load(tmp_path / "same" / "model_final.pt", weights_only=True)
    other = torch.load(tmp_path / "other" / "model_final.pt", weights_only=True)
    assert ref.keys() == same.keys() and all(torch.equal(ref[k], same[k]) for k in ref)
    assert any(not torch.equal(ref[k], other[k]) for k in ref)
