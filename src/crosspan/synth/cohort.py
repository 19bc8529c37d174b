"""Write a synthetic cohort in the CrossPan release layout, patients in parallel, atomically.

Layout: ``OUT/<SEQ>/<split>/images/<CENTER>_<NNNN>_0000.nii.gz`` and ``.../labels/<CENTER>_<NNNN>.nii.gz``,
``OUT/manifest.csv`` (case_id = ``<CENTER>_<NNNN>_<SEQ>``, patient_id, center, sequence, image, label, split),
``OUT/parameters.jsonl`` (one record a scan) and, optionally, ``OUT/tissues/`` (tissue label maps).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from crosspan.core.atomic import atomic_dir, write_json, write_text
from crosspan.core.errors import CrosspanError
from crosspan.core.parallel import pmap
from crosspan.core.seeding import rng
from crosspan.data.io import ImageProperties, write_image
from crosspan.synth.anatomy import breathing_offset, sample_anatomy
from crosspan.synth.profiles import store, vary_anatomy
from crosspan.synth.scan import simulate_scan
from crosspan.synth.scanner import SIZES
from crosspan.synth.tissues import Tissue, patient_arrays

SPLITS = ("train", "val", "test")
MANIFEST_COLUMNS = ["case_id", "patient_id", "center", "sequence", "image", "label", "split"]
MARKER = "parameters.jsonl"


def plan_patients(n: int, centers: list[str], seed: int) -> list[dict[str, Any]]:
    """Patients assigned round-robin to centers, numbered per center; ~60/20/20 split per center by seed."""
    per_center: dict[str, list[int]] = {c: [] for c in centers}
    for i in range(n):
        per_center[centers[i % len(centers)]].append(i)
    jobs = []
    for c, idx in per_center.items():
        order = rng(seed, "split", c).permutation(len(idx))
        n_train = int(round(0.6 * len(idx)))
        n_val = int(round(0.2 * len(idx)))
        for rank, k in enumerate(order):
            split = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
            jobs.append({"center": c, "case": f"{c}_{k + 1:04d}", "split": split})
    return sorted(jobs, key=lambda j: j["case"])


def properties(record: dict[str, Any]) -> ImageProperties:
    g = record["geometry"]
    return ImageProperties(shape=tuple(g["shape"]), spacing=tuple(g["spacing"]), origin=tuple(g["origin"]),
                           direction=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))


def simulate_patient(job: dict[str, Any]) -> dict[str, Any]:
    """All sequences of one patient: sample anatomy and tissue jitter once, render each series, write files."""
    seed, case, center = job["seed"], job["case"], job["centers"][job["center"]]
    anatomy = vary_anatomy(sample_anatomy(rng(seed, "anatomy", case)), job.get("anatomy", {}),
                           rng(seed, "profile-anatomy", case))
    params = patient_arrays(float(center["field"]), rng(seed, "tissue", case), anatomy["age"],
                            t1_bias=float(center.get("t1_bias", 1.0)))
    root = Path(job["root"])
    rows, records = [], []
    for i, seq in enumerate(job["sequences"]):
        off = (0.0, 0.0, 0.0) if i == 0 else breathing_offset(anatomy, rng(seed, "offset", case, seq))
        image, tissue, rec = simulate_scan(anatomy, params, center, seq, rng(seed, "scan", case, seq),
                                           size=job["size"], offset=off)
        label = (tissue == Tissue.PANCREAS).astype(np.uint8)
        image, label, tissue, props = store(image, label, tissue, properties(rec), center)
        img_rel = f"{seq}/{job['split']}/images/{case}_0000.nii.gz"
        lab_rel = f"{seq}/{job['split']}/labels/{case}.nii.gz"
        write_image(image, props, root / img_rel)
        write_image(label, props, root / lab_rel)
        row = {"case_id": f"{case}_{seq}", "patient_id": case, "center": job["center"], "sequence": seq,
               "image": img_rel, "label": lab_rel, "split": job["split"]}
        if job["tissue_maps"]:
            row["tissue"] = ""
            if i == 0:  # the map lies on the first sequence's grid: only that scan gets it
                row["tissue"] = f"tissues/{case}.nii.gz"
                write_image(tissue, props, root / row["tissue"])
        rows.append(row)
        rec.update({"case_id": f"{case}_{seq}", "patient_id": case, "center": job["center"], "split": job["split"],
                    "age": anatomy["age"], "pancreas_ml": float(label.sum() * props.voxel_volume_ml()),
                    "tissue_params": {k: np.asarray(v).tolist() for k, v in params.items()}})
        if job.get("anatomy"):
            rec["anatomy"] = {k: anatomy[k] for k in ("body_scale", "subcut", "pancreas_scale") if k in anatomy}
        records.append(rec)
    return {"rows": rows, "records": records}


def _check_target(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise CrosspanError(out, "exists and is not a synthetic cohort (no parameters.jsonl)",
                            "choose a new or empty output folder")


def check_centers(centers: dict[str, dict[str, Any]], center_names: list[str], sequences: list[str]) -> None:
    """Every named center exists and offers every requested sequence, or one clear error."""
    for c in center_names:
        if c not in centers:
            raise CrosspanError(None, f"unknown center '{c}'", f"use one of {', '.join(centers)} or a --centers-file")
        missing = [s for s in sequences if s not in centers[c]["sequences"]]
        if missing:
            raise CrosspanError(None, f"center {c} has no sequence {', '.join(missing)}",
                                f"use {', '.join(centers[c]['sequences'])} or define it in a centers file")


def write_cohort(out: str | Path, n_patients: int, centers: dict[str, dict[str, Any]], center_names: list[str],
                 sequences: list[str], seed: int, size: str = "default", workers: int | None = None,
                 tissue_maps: bool = False, progress: bool = True,
                 anatomy: dict[str, list[float]] | None = None) -> Path:
    """Generate and write the cohort; the folder appears complete or not at all (a rerun replaces it).
    ``anatomy``: a profile's anatomy ranges (:func:`crosspan.synth.profiles.vary_anatomy`)."""
    out = Path(out)
    if n_patients < 1:
        raise CrosspanError(None, "--patients must be at least 1", "give a positive number of patients")
    check_centers(centers, center_names, sequences)
    if size not in SIZES:
        raise CrosspanError(None, f"unknown --shape '{size}'", f"use one of {', '.join(SIZES)}")
    _check_target(out)
    jobs = plan_patients(n_patients, center_names, seed)
    with atomic_dir(out) as tmp:
        used = {c: centers[c] for c in center_names}
        for j in jobs:
            j.update(seed=seed, centers=used, sequences=sequences, size=size, root=str(tmp), tissue_maps=tissue_maps,
                     anatomy=anatomy or {})
        results = pmap(simulate_patient, jobs, workers=workers, description="synthesising patients",
                       progress=progress)
        rows = [r for res in results for r in res["rows"]]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS + (["tissue"] if tissue_maps else []),
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        write_text(tmp / "manifest.csv", buf.getvalue())
        lines = [json.dumps(rec, default=float) for res in results for rec in res["records"]]
        write_text(tmp / MARKER, "\n".join(lines) + "\n")
        if tissue_maps:
            write_json(tmp / "tissues" / "classes.json", {t.name.lower(): int(t) for t in Tissue})
        _cleanup_tmp(tmp)
    return out


def _cleanup_tmp(root: Path) -> None:
    for p in root.rglob(".*.tmp*"):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
