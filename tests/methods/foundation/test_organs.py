"""MRSegmentator and TotalSegmentator MRI as zero-shot methods: the skipped path (no weights, no package), the
wrapping (geometry, pancreas extraction) through a stand-in command, and the real packages' own loading and
inference on a tiny randomly initialised nnU-Net v2 results folder (skipped where a package is not installed).

The packages cannot share crosspan's environment with each other (docs/foundation.md): a side environment's
``bin`` folder can be named in ``CROSSPAN_BASELINE_BINS`` (``os.pathsep``-separated) for the real-package tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import yaml
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.inference.zeroshot import oracle_prompt, skip_reason
from crosspan.methods.foundation.organ_models import find_cli
from crosspan.methods.foundation.organ_table import ORGAN_MODELS, TOTALSEG_TRAINER
from nnunet_tiny import write_model

runner = CliRunner()
SPACING = (1.6, 1.4, 2.0)  # SimpleITK order (x, y, z)
DIRECTION = (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)  # LPS-like, as DICOM-derived NIfTI often is
ORIGIN = (12.5, -30.0, 7.0)


def scan(path: Path, shape: tuple[int, int, int] = (20, 26, 22), seed: int = 0) -> Path:
    """A small synthetic MR-like volume (z, y, x) with a bright blob, in a non-trivial geometry."""
    z, y, x = np.mgrid[: shape[0], : shape[1], : shape[2]]
    blob = ((z - 10) ** 2 / 40 + (y - 13) ** 2 / 60 + (x - 11) ** 2 / 50) < 1
    arr = 200 + 400 * blob + np.random.default_rng(seed).normal(0, 30, shape)
    img = sitk.GetImageFromArray(arr.astype(np.float32))
    img.SetSpacing(SPACING)
    img.SetDirection(DIRECTION)
    img.SetOrigin(ORIGIN)
    sitk.WriteImage(img, str(path))
    return path


def assert_same_geometry(a: sitk.Image, b: sitk.Image) -> None:
    assert a.GetSize() == b.GetSize()
    np.testing.assert_allclose(a.GetSpacing(), b.GetSpacing(), atol=1e-5)
    np.testing.assert_allclose(a.GetOrigin(), b.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(a.GetDirection(), b.GetDirection(), atol=1e-6)


def side_cli(name: str) -> Path | None:
    """The package's command here, or in a side environment named by ``CROSSPAN_BASELINE_BINS``."""
    model = ORGAN_MODELS[name]
    found = find_cli(model)
    for folder in filter(None, os.environ.get("CROSSPAN_BASELINE_BINS", "").split(os.pathsep)):
        found = found or find_cli(model, str(Path(folder) / model.cli))
    return found


def need_cli(name: str) -> Path:
    cli = side_cli(name)
    if cli is None:
        model = ORGAN_MODELS[name]
        pytest.skip(f"{model.package} is not installed here ({model.install}); set CROSSPAN_BASELINE_BINS to its "
                    "environment's bin folder to run this test")
    return cli


def predict(name: str, data: Path, out: Path, *hp: str) -> object:
    args = ["predict", "--method", name, str(data), "-o", str(out), "--postprocess", "none", "--threads", "1"]
    return runner.invoke(app, [*args, *(a for kv in hp for a in ("--hp", kv))])


def check_outputs(data: Path, out: Path, label: int) -> tuple[np.ndarray, np.ndarray]:
    """Mask in the scan's geometry and equal to the organ map's pancreas; returns (mask, organs)."""
    src = sitk.ReadImage(str(data))
    mask_img = sitk.ReadImage(str(out / f"{data.name[:-7]}.nii.gz"))
    organs_img = sitk.ReadImage(str(out / "organs" / f"{data.name[:-7]}.nii.gz"))
    assert_same_geometry(mask_img, src)
    assert_same_geometry(organs_img, src)
    mask, organs = sitk.GetArrayFromImage(mask_img), sitk.GetArrayFromImage(organs_img)
    assert set(np.unique(mask)) <= {0, 1}
    np.testing.assert_array_equal(mask, (organs == label).astype(mask.dtype))
    return mask, organs


@pytest.mark.parametrize("name", ["mrsegmentator", "totalseg-mr"])
def test_without_weights_the_method_says_where_they_go(tmp_path: Path, name: str) -> None:
    reason = skip_reason(name, {})
    assert reason and f"no {name} weights" in reason and ORGAN_MODELS[name].weights_env in reason
    assert "never downloads" in reason and oracle_prompt(name, {}) is False
    half = tmp_path / "weights"
    half.mkdir()
    assert "plans.json missing" in skip_reason(name, {"weights": str(half)})
    res = predict(name, scan(tmp_path / "s.nii.gz"), tmp_path / "out")
    assert res.exit_code != 0 and f"no {name} weights" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_benchmark_jobs_are_skipped_with_the_reason(tmp_path: Path) -> None:
    from crosspan.bench.jobs import build_plan, job_status, skip_note
    from crosspan.bench.spec import load_spec
    from tests.bench.test_standin import write_spec

    path = write_spec(tmp_path, seeds=1, steps=1)
    spec = yaml.safe_load(path.read_text())
    spec["methods"] = [{"name": n, "method": n, "zero_shot": True} for n in ORGAN_MODELS]
    path.write_text(yaml.safe_dump(spec))
    res = runner.invoke(app, ["benchmark", "run", str(path), "--no-collect"])
    assert res.exit_code == 0, res.output
    jobs = {j.info["method"]: j for j in build_plan(load_spec(path)).method_jobs}
    for name in ORGAN_MODELS:
        assert job_status(jobs[name]) == "skipped" and f"no {name} weights" in skip_note(jobs[name])


STANDIN = textwrap.dedent(r'''
    import sys, SimpleITK as sitk, numpy as np
    a = sys.argv[1:]
    img = sitk.ReadImage(a[a.index("-i") + 1])
    arr = sitk.GetArrayFromImage(img)
    organs = np.where(arr > 400, 7, np.where(arr > 250, 5, 0)).astype(np.uint8)  # "pancreas" 7, "liver" 5
    out = sitk.GetImageFromArray(organs)
    out.CopyInformation(img)
    out = sitk.DICOMOrient(out, "RAS")  # another orientation: crosspan must bring it back onto the scan's grid
    sitk.WriteImage(out, a[a.index("--outdir") + 1] + "/scan_0000_seg.nii.gz")
''')


def test_standin_command_pancreas_in_source_geometry(tmp_path: Path) -> None:
    """The wrapping on its own: a stand-in `mrsegmentator` that answers in another orientation."""
    cli = tmp_path / "bin" / "mrsegmentator"
    cli.parent.mkdir()
    cli.write_text(f"#!{sys.executable}\n{STANDIN}")
    cli.chmod(0o755)
    weights = write_model_stub(tmp_path / "weights")
    data = scan(tmp_path / "case1.nii.gz")
    out = tmp_path / "out"
    res = predict("mrsegmentator", data, out, f"weights={weights}", f"cli={cli}", "fold=0", "save_organs=true")
    assert res.exit_code == 0, res.output
    mask, organs = check_outputs(data, out, 7)
    arr = sitk.GetArrayFromImage(sitk.ReadImage(str(data)))
    np.testing.assert_array_equal(mask, arr > 400)  # voxel for voxel after the orientation round trip
    assert set(np.unique(organs)) == {0, 5, 7}
    info = json.loads((out / "zeroshot.json").read_text())
    assert info["method"] == "mrsegmentator" and info["oracle"] is False and info["pancreas_label"] == 7
    assert info["device"] == "cpu" and info["seconds"]["case1"] > 0


def test_rerun_skips_the_scans_already_segmented(tmp_path: Path) -> None:
    """Each scan is one package run: a rerun into the same folder calls the package only for what is missing;
    new weights or --no-resume segment everything again."""
    calls = tmp_path / "calls.txt"
    cli = tmp_path / "bin" / "mrsegmentator"
    cli.parent.mkdir()
    cli.write_text(f"#!{sys.executable}\nopen({str(calls)!r}, 'a').write('x')\n{STANDIN}")
    cli.chmod(0o755)
    weights = write_model_stub(tmp_path / "weights")
    data = tmp_path / "data"
    data.mkdir()
    for i in range(2):
        scan(data / f"case{i}.nii.gz", seed=i)
    out = tmp_path / "out"
    hp = (f"weights={weights}", f"cli={cli}", "fold=0", "save_organs=true")

    def run(*extra: str) -> int:
        calls.write_text("")
        res = runner.invoke(app, ["predict", "--method", "mrsegmentator", str(data), "-o", str(out), "--cases",
                                  "all", "--postprocess", "none", *extra, *(a for kv in hp for a in ("--hp", kv))])
        assert res.exit_code == 0, res.output
        return len(calls.read_text())

    assert run() == 2
    first = (out / "case0.nii.gz").stat().st_mtime_ns
    (out / "organs" / "case1.nii.gz").unlink()  # a lost output is made again
    assert run() == 1 and (out / "case0.nii.gz").stat().st_mtime_ns == first
    info = json.loads((out / "zeroshot.json").read_text())
    assert info["cases"] == 2 and set(info["seconds"]) == {"case0", "case1"}
    assert run() == 0
    assert run("--no-resume") == 2
    ckpt = weights / "fold_0" / "checkpoint_final.pth"
    ckpt.write_bytes(b"other weights")
    assert run() == 2


def write_model_stub(folder: Path) -> Path:
    """Weights layout only (the stand-in command never reads them)."""
    (folder / "fold_0").mkdir(parents=True)
    (folder / "plans.json").write_text("{}")
    (folder / "dataset.json").write_text(json.dumps({"labels": {"background": 0, "pancreas": 7}}))
    (folder / "fold_0" / "checkpoint_final.pth").write_bytes(b"")
    return folder


def test_weights_that_disagree_on_the_pancreas_id_fail(tmp_path: Path) -> None:
    weights = write_model_stub(tmp_path / "w")
    (weights / "dataset.json").write_text(json.dumps({"labels": {"background": 0, "pancreas": 3}}))
    cli = tmp_path / "mrsegmentator"
    cli.write_text(f"#!{sys.executable}\n{STANDIN}")
    cli.chmod(0o755)
    res = predict("mrsegmentator", scan(tmp_path / "s.nii.gz"), tmp_path / "out", f"weights={weights}",
                  f"cli={cli}", "fold=0")
    assert res.exit_code != 0 and "labels.pancreas is 3" in res.output and not (tmp_path / "out").exists()


MRSEG_LABELS = {"background": 0, "spleen": 1, "right_kidney": 2, "left_kidney": 3, "gallbladder": 4, "liver": 5,
                "stomach": 6, "pancreas": 7, "right_adrenal_gland": 8}


@pytest.mark.slow  # ~50 s of MRSegmentator's own command on the shared machine (docs/foundation.md)
def test_mrsegmentator_package_end_to_end(tmp_path: Path) -> None:
    """The package's own command loads a tiny nnU-Net results folder and segments a synthetic scan."""
    cli = need_cli("mrsegmentator")
    weights = write_model(tmp_path / "weights", MRSEG_LABELS, cli.parent / "python", boost="pancreas")
    (weights / "version.json").write_text(json.dumps({"weights_version": 1.2}))  # as the released weights
    data = scan(tmp_path / "case1.nii.gz")
    out = tmp_path / "out"
    res = predict("mrsegmentator", data, out, f"weights={weights}", f"cli={cli}", "fold=0", "save_organs=true")
    assert res.exit_code == 0, res.output
    mask, organs = check_outputs(data, out, ORGAN_MODELS["mrsegmentator"].pancreas_label)
    assert 0 < mask.mean() < 1 and len(np.unique(organs)) > 2  # a real argmax over several classes
    info = json.loads((out / "zeroshot.json").read_text())
    assert info["version"] == ORGAN_MODELS["mrsegmentator"].version and info["seconds_per_volume"] > 0


def totalseg_parts(python: Path) -> tuple[dict[int, str], dict[str, dict[int, str]]]:
    code = ("import json; from totalsegmentator.map_to_binary import class_map, class_map_parts_mr as p; "
            "print(json.dumps([class_map['total_mr'], p]))")
    total, parts = json.loads(subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                                             check=True).stdout)
    return {int(k): v for k, v in total.items()}, parts


@pytest.mark.slow  # ~80 s of TotalSegmentator's own command on the shared machine (docs/foundation.md)
def test_totalsegmentator_mr_package_end_to_end(tmp_path: Path) -> None:
    """TotalSegmentator's `total_mr` (two parts) loads tiny models from TOTALSEG_WEIGHTS_PATH; no download."""
    cli = need_cli("totalseg-mr")
    python = cli.parent / "python"
    total, parts = totalseg_parts(python)
    assert total[ORGAN_MODELS["totalseg-mr"].pancreas_label] == "pancreas"  # the table matches the package's
    weights = tmp_path / "weights"
    for sub, (_part, classes) in zip(ORGAN_MODELS["totalseg-mr"].model_dirs, parts.items(), strict=True):
        assert sub.endswith(TOTALSEG_TRAINER)
        labels = {"background": 0, **{v: int(k) for k, v in classes.items()}}
        boost = "pancreas" if "pancreas" in labels else classes["1"]
        write_model(weights / sub, labels, python, boost=boost, spacing=(1.5, 1.5, 1.5))
    data = scan(tmp_path / "case1.nii.gz")
    out = tmp_path / "out"
    res = predict("totalseg-mr", data, out, f"weights={weights}", f"cli={cli}", "save_organs=true")
    assert res.exit_code == 0, res.output
    mask, organs = check_outputs(data, out, ORGAN_MODELS["totalseg-mr"].pancreas_label)
    assert 0 < mask.mean() < 1 and len(np.unique(organs)) > 2
    assert json.loads((out / "zeroshot.json").read_text())["version"] == ORGAN_MODELS["totalseg-mr"].version
