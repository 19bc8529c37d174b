"""`crosspan synth cohort`: layout, manifest, determinism, atomic rerun, and the data layer reading it."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.data.io import read_image

runner = CliRunner()


def _run(out: Path, *extra: str) -> None:
    args = ["synth", "cohort", str(out), "--patients", "3", "--centers", "A,B", "--sequences", "T1,T2,OOP",
            "--seed", "5", "--shape", "small", "--workers", "1", *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "cohort"
    _run(out, "--tissue-maps")
    return out


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_and_manifest(cohort: Path) -> None:
    with (cohort / "manifest.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 9
    assert list(rows[0]) == ["case_id", "patient_id", "center", "sequence", "image", "label", "split", "tissue"]
    # the tissue map lies on the first sequence's grid: only that scan of each patient names it
    first = [r for r in rows if r["tissue"]]
    assert len(first) == 3 and all(r["tissue"] == f"tissues/{r['patient_id']}.nii.gz" for r in first)
    assert all((cohort / r["tissue"]).is_file() for r in first)
    by_patient: dict[str, set[str]] = {}
    for r in rows:
        assert r["case_id"] == f"{r['patient_id']}_{r['sequence']}"
        assert r["image"] == f"{r['sequence']}/{r['split']}/images/{r['patient_id']}_0000.nii.gz"
        assert (cohort / r["image"]).is_file() and (cohort / r["label"]).is_file()
        by_patient.setdefault(r["patient_id"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_patient.values())  # one split per patient across sequences
    assert {p.split("_")[0] for p in by_patient} == {"A", "B"}
    records = [json.loads(line) for line in (cohort / "parameters.jsonl").read_text().splitlines()]
    assert len(records) == 9 and {"sequence", "scanner", "geometry", "offset_mm"} <= set(records[0])
    classes = json.loads((cohort / "tissues" / "classes.json").read_text())
    assert classes["pancreas"] == 16
    tissue, _ = read_image(cohort / "tissues" / "A_0001.nii.gz")
    first = next(r for r in rows if r["patient_id"] == "A_0001")
    label, _ = read_image(cohort / first["label"])
    assert np.array_equal(label, (tissue == classes["pancreas"]).astype(label.dtype))


def test_data_layer_reads_cohort_without_flags(cohort: Path) -> None:
    from crosspan.data.catalog import build_catalog
    from crosspan.data.layouts import scan_dataset

    name, entries = scan_dataset(cohort)
    assert name == "crosspan"
    df, problems = build_catalog(cohort, workers=1, progress=False)
    assert not [p for p in problems if p.level == "error"]
    assert set(df["case_id"]) == {f"{c}_{s}" for c in ("A_0001", "A_0002", "B_0001") for s in ("T1", "T2", "OOP")}
    row = df.set_index("case_id").loc["B_0001_T2"]
    assert row["patient_id"] == "B_0001" and row["center"] == "B" and row["sequence"] == "T2"
    assert (df["label_ml"] > 10).all()


def test_same_seed_identical_files_and_safe_rerun(cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    _run(out, "--tissue-maps")
    assert _digest(out) == _digest(cohort)
    _run(out, "--tissue-maps")  # rerun into the same folder replaces it cleanly
    assert _digest(out) == _digest(cohort)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_refuses_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["synth", "cohort", str(tmp_path), "--patients", "1", "--shape", "small"])
    assert result.exit_code == 2
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_failed_run_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crosspan.synth import cohort as cohort_mod
    from crosspan.synth.scanner import load_centers

    calls = {"n": 0}
    real = cohort_mod.simulate_patient

    def flaky(job: dict) -> dict:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(job)

    monkeypatch.setattr(cohort_mod, "simulate_patient", flaky)
    with pytest.raises(RuntimeError):
        cohort_mod.write_cohort(tmp_path / "out", 3, load_centers(), ["A"], ["T1"], seed=0, size="small",
                                workers=1, progress=False)
    assert calls["n"] == 2
    assert list(tmp_path.iterdir()) == []


def test_written_tissue_map_can_be_rerendered(cohort: Path) -> None:
    from crosspan.synth.scan import render_tissue_map
    from crosspan.synth.scanner import load_centers

    tissue, _ = read_image(cohort / "tissues" / "A_0001.nii.gz")
    centers = load_centers()
    t1 = render_tissue_map(tissue, centers["B"], "T1", np.random.default_rng(0))
    t2 = render_tissue_map(tissue, centers["B"], "T2", np.random.default_rng(0))
    assert t1.shape == tissue.shape == t2.shape
    pan, fat = tissue == 16, tissue == 1
    assert t1[pan].mean() > t1[fat].mean() and t2[pan].mean() < t2[fat].mean()
