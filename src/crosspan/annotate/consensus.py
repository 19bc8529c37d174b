"""Consensus masks from several annotators: STAPLE (Warfield et al., IEEE TMI 2004; SimpleITK), majority vote,
intersection or union.

Per case, the output is the final mask and a confidence map (STAPLE's posterior probability of pancreas, or the
fraction of annotators who drew the voxel). An adjudicated mask, when given, wins. Two forms: mask folders that all
hold the same codes (:func:`build_consensus`), or an assignment folder (:func:`consensus_from_assignment`), where
each case fuses whoever segmented it and the manifest names each final mask's source.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk

from crosspan.annotate.key import adjudicated_mask, annotator_mask, annotators_of, load_key
from crosspan.annotate.masks import read_mask
from crosspan.core.atomic import atomic_dir
from crosspan.core.errors import CrosspanError
from crosspan.data.io import write_image


def staple(masks: list[np.ndarray]) -> np.ndarray:
    """STAPLE posterior probability of foreground (float32, same shape as the masks)."""
    images = [sitk.GetImageFromArray(m.astype(np.uint8)) for m in masks]
    filt = sitk.STAPLEImageFilter()
    filt.SetForegroundValue(1)
    prob = filt.Execute(images)
    return sitk.GetArrayFromImage(prob).astype(np.float32)


def majority(masks: list[np.ndarray]) -> np.ndarray:
    """Fraction of annotators who drew each voxel (the final mask keeps >= 0.5: a tie counts as foreground)."""
    return np.mean([m > 0 for m in masks], axis=0).astype(np.float32)


METHODS = ("staple", "majority", "intersection", "union")


def check_method(method: str) -> None:
    if method not in METHODS:
        raise CrosspanError(None, f"unknown consensus method '{method}'", f"use one of {', '.join(METHODS)}")


def fuse(masks: list[np.ndarray], method: str) -> tuple[np.ndarray, np.ndarray]:
    """(final uint8 mask, float32 confidence) of one case's masks by ``method`` (see :data:`METHODS`)."""
    check_method(method)
    if len(masks) == 1:
        return (masks[0] > 0).astype(np.uint8), (masks[0] > 0).astype(np.float32)
    prob = staple(masks) if method == "staple" else majority(masks)
    if method == "intersection":
        final = prob >= 1.0
    elif method == "union":
        final = prob > 0.0
    else:
        final = prob >= 0.5
    return final.astype(np.uint8), prob


def build_consensus(mask_dirs: list[Path], out: Path, method: str = "staple",
                    adjudicated: Path | None = None) -> list[str]:
    """Write ``out/masks/<code>.nii.gz`` and ``out/confidence/<code>.nii.gz`` for every code in all folders."""
    if len(mask_dirs) < 2:
        raise CrosspanError(mask_dirs[0] if mask_dirs else None, "consensus needs an assignment folder (with key.csv) "
                            "or at least two annotators' folders", "pass ASSIGNMENT_DIR, or two or more folders")
    check_method(method)
    sets = [{p.name for p in Path(d).iterdir() if p.is_file()} for d in mask_dirs]
    names = sorted(set.intersection(*sets))
    if not names:
        raise CrosspanError(mask_dirs[0], "no mask present in every folder", "name masks <code>.nii.gz in each")
    done = []
    with atomic_dir(out) as tmp:
        for name in names:
            first, props = read_mask(Path(mask_dirs[0]) / name)
            like = (Path(mask_dirs[0]) / name, first.shape)
            arrays = [first, *(read_mask(Path(d) / name, like)[0] for d in mask_dirs[1:])]
            final, prob = fuse(arrays, method)
            adj = Path(adjudicated) / name if adjudicated else None
            if adj is not None and adj.exists():
                final = read_mask(adj, like)[0].astype(np.uint8)
            write_image(final, props, tmp / "masks" / name)
            write_image(prob, props, tmp / "confidence" / name)
            done.append(name)
    return done


def _final_case(assignment: Path, row: pd.Series, method: str) -> tuple[np.ndarray | None, np.ndarray | None, Any,
                                                                        str, list[str]]:
    """(final or None without any mask, confidence or None, properties, source, annotators used) of one key row."""
    found = [(a, p) for a in annotators_of(row) if (p := annotator_mask(assignment, a, row["code"])) is not None]
    adj = adjudicated_mask(assignment, row)
    arrays, props = [], None
    for _, p in found:
        arr, props = read_mask(p)
        arrays.append(arr)
    if arrays and len({a.shape for a in arrays}) > 1:
        raise CrosspanError(found[1][1], f"mask shape differs from {found[0][1]}", "redraw it on the case's image")
    final, conf = fuse(arrays, method) if arrays else (None, None)
    if adj is not None:
        arr, props = read_mask(adj)
        if conf is not None and arr.shape != conf.shape:
            raise CrosspanError(adj, f"adjudicated mask shape {arr.shape} differs from the annotators' {conf.shape}",
                                "draw it on the image in the adjudication folder")
        return (arr > 0).astype(np.uint8), conf, props, "adjudicated", [a for a, _ in found]
    source = "consensus" if len(found) > 1 else "single"
    return final, conf, props, source, [a for a, _ in found]


def consensus_from_assignment(assignment: Path, out: Path, method: str = "staple",
                              copy_images: bool = False) -> pd.DataFrame:
    """Final masks of every case in ``key.csv``: the adjudicated mask where there is one, else ``method`` over
    whoever segmented it. Writes ``out/{masks,confidence}/<case_id>.nii.gz`` and ``out/manifest.csv`` (image, final
    label, ``source``, ``method``, ``annotators``, ``code``); returns the manifest. The image column is the source
    path, or with ``copy_images`` a copy under ``out/images/``, which makes ``out`` a self-contained dataset
    (``crosspan data catalog out/manifest.csv``)."""
    assignment = Path(assignment)
    key = load_key(assignment)
    check_method(method)
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    with atomic_dir(out) as tmp:
        for _, r in key.iterrows():
            final, conf, props, source, used = _final_case(assignment, r, method)
            if final is None:
                skipped.append(r["code"])
                continue
            name = f"{r['case_id']}.nii.gz"
            write_image(final, props, tmp / "masks" / name)
            if conf is not None:
                write_image(conf, props, tmp / "confidence" / name)
            row = _manifest_row(r, name, conf is not None, source, method, used)
            if copy_images:
                row["image"] = f"images/{r['case_id']}{_suffix(str(r['image']))}"
                (tmp / "images").mkdir(exist_ok=True)
                shutil.copyfile(r["image"], tmp / row["image"])
            rows.append(row)
        if not rows:
            raise CrosspanError(assignment, "no mask returned for any case yet",
                                "annotators save masks as <annotator>/masks/<code>.nii.gz")
        manifest = pd.DataFrame(rows)
        manifest.to_csv(tmp / "manifest.csv", index=False)
        pd.DataFrame({"code": skipped}).to_csv(tmp / "no_mask.csv", index=False)
    return manifest


def _suffix(path: str) -> str:
    return ".nii.gz" if path.endswith(".nii.gz") else Path(path).suffix


def _manifest_row(r: pd.Series, name: str, has_conf: bool, source: str, method: str, used: list[str]) -> dict:
    """One manifest row: the case, its image, its final label and where the label came from."""
    pending = source != "adjudicated" and bool(str(r.get("adjudication_code", "") or ""))
    return {"case_id": r["case_id"], "patient_id": r.get("patient_id", r["case_id"]), "center": r["center"],
            "sequence": r["sequence"], "image": str(Path(r["image"]).resolve()), "label": f"masks/{name}",
            "confidence": f"confidence/{name}" if has_conf else "", "source": source,
            "method": method if source == "consensus" else "", "annotators": ",".join(used), "code": r["code"],
            "adjudication": "pending" if pending else ""}
