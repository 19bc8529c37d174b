"""`crosspan synth labelmaps`: real-scan tissue maps with the scan's own pancreas burned in, in the format label-map
training reads. The segmenter is a stand-in here: the synthetic cohort's own tissue maps with the pancreas moved
(so the burn-in has work to do), then `physics-rand` trains a few steps on the result."""

from __future__ import annotations

import csv
import json
import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.data.catalog import catalog_from
from crosspan.inference.labelmaps import labelled_rows, write_labelmaps
from crosspan.synth.render_labels import load_mapping, preset_path
from crosspan.synth.tissues import Tissue
from tests.methods.foundation.test_organs import write_model_stub

runner = CliRunner()


def _ok(args: list[object]) -> None:
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("lm-real") / "cohort"
    _ok(["synth", "cohort", data, "--patients", "4", "--centers", "A", "--sequences", "T1", "--seed", "3",
         "--shape", "small", "--workers", "1", "--tissue-maps"])
    return data


def shifted_tissue(path: str) -> np.ndarray:
    """The cohort's tissue map with its pancreas moved 3 voxels along x: a segmenter that is slightly off."""
    tissue = sitk.GetArrayFromImage(sitk.ReadImage(path))
    pancreas = tissue == Tissue.PANCREAS
    tissue[pancreas] = Tissue.VISCERAL_FAT
    tissue[np.roll(pancreas, 3, axis=2)] = Tissue.PANCREAS
    return tissue


def test_burned_in_maps_train_physics_rand(cohort: Path, tmp_path: Path) -> None:
    tissue_of = dict(zip(catalog_from(cohort, progress=False)["case_id"],
                         catalog_from(cohort, progress=False)["tissue"], strict=True))
    rows, unlabelled = labelled_rows(cohort)
    assert unlabelled == 0 and len(rows) == 4
    out = write_labelmaps(rows, lambda case, _image: shifted_tissue(tissue_of[case]),
                          load_mapping(preset_path("crosspan")), tmp_path / "lm", {"segmenter": "stand-in"},
                          progress=False)
    manifest = list(csv.DictReader((out / "manifest.csv").open()))
    assert [r["case_id"] for r in manifest] == [r["case_id"] for r in rows]
    for src, row in zip(rows, manifest, strict=True):
        image, tissue_img = sitk.ReadImage(src["image"]), sitk.ReadImage(str(out / row["tissue"]))
        assert tissue_img.GetSize() == image.GetSize()
        np.testing.assert_allclose(tissue_img.GetSpacing(), image.GetSpacing(), atol=1e-5)
        np.testing.assert_allclose(tissue_img.GetOrigin(), image.GetOrigin(), atol=1e-4)
        tissue = sitk.GetArrayFromImage(tissue_img)
        label = sitk.GetArrayFromImage(sitk.ReadImage(src["label"])) > 0
        stand_in = shifted_tissue(tissue_of[src["case_id"]])
        np.testing.assert_array_equal(tissue == Tissue.PANCREAS, label)  # the scan's own label, exactly
        moved_off = (stand_in == Tissue.PANCREAS) & ~label
        assert moved_off.any() and (tissue[moved_off] == Tissue.VISCERAL_FAT).all()
        same = ~label & ~moved_off
        np.testing.assert_array_equal(tissue[same], stand_in[same])  # everything else as the segmenter said
        np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(out / row["image"]))),
                                      sitk.GetArrayFromImage(image))
    assert json.loads((out / "labelmaps.json").read_text())["cases"] == 4

    torch.set_num_threads(1)
    data = out / "manifest.csv"
    _ok(["data", "splits", data, "-p", "in-domain", "--train", "A:T1", "--folds", "2", "--training-input",
         "label-maps", "-o", tmp_path / "splits.json"])
    _ok(["preprocess", data, "-o", tmp_path / "plan", "--splits", tmp_path / "splits.json", "--cases", "split"])
    run = tmp_path / "run"
    _ok(["train", tmp_path / "plan", "-o", run, "--method", "physics-rand", "--steps", "2", "--patch", "16,32,32",
         "--ckpt-every", "2", "--device", "cpu"])
    logs = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs] == [1, 2] and all(np.isfinite(r["loss"]) for r in logs)


STANDIN = textwrap.dedent(r'''
    import sys, SimpleITK as sitk, numpy as np
    a = sys.argv[1:]
    img = sitk.ReadImage(a[a.index("-i") + 1])
    arr = sitk.GetArrayFromImage(img)
    lo, hi = np.percentile(arr, [60, 95])
    out = sitk.GetImageFromArray(np.where(arr > hi, 7, np.where(arr > lo, 5, 0)).astype(np.uint8))  # pancreas, liver
    out.CopyInformation(img)
    sitk.WriteImage(out, a[a.index("--outdir") + 1] + "/scan_0000_seg.nii.gz")
''')


def test_cli_runs_the_segmenter_and_its_preset(cohort: Path, tmp_path: Path) -> None:
    """`crosspan synth labelmaps --segmenter mrsegmentator` with a stand-in command (ids 7 and 5)."""
    cli = tmp_path / "mrsegmentator"
    cli.write_text(f"#!{sys.executable}\n{STANDIN}")
    cli.chmod(0o755)
    weights = write_model_stub(tmp_path / "w")
    one = tmp_path / "one.csv"  # one scan, copied beside its manifest
    first = next(csv.DictReader((cohort / "manifest.csv").open()))
    for key in ("image", "label"):
        shutil.copy(cohort / first[key], tmp_path / f"{key}.nii.gz")
    first.update(image="image.nii.gz", label="label.nii.gz", tissue="")
    with one.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(first))
        writer.writeheader()
        writer.writerow(first)
    out = tmp_path / "lm"
    res = runner.invoke(app, ["synth", "labelmaps", str(one), "-o", str(out), "--segmenter", "mrsegmentator",
                              "--hp", f"weights={weights}", "--hp", f"cli={cli}", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    row = next(csv.DictReader((out / "manifest.csv").open()))
    tissue = sitk.GetArrayFromImage(sitk.ReadImage(str(out / row["tissue"])))
    label = sitk.GetArrayFromImage(sitk.ReadImage(str(out / row["label"]))) > 0
    np.testing.assert_array_equal(tissue == Tissue.PANCREAS, label)
    assert Tissue.LIVER in np.unique(tissue)  # mrsegmentator id 5 -> liver through its preset
    res = runner.invoke(app, ["synth", "labelmaps", str(one), "-o", str(out), "--segmenter", "mrsegmentator",
                              "--hp", f"weights={weights}", "--hp", f"cli={cli}"])
    assert res.exit_code != 0 and "not empty" in res.output  # an existing result is never overwritten
