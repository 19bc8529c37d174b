"""Preprocess one case (reorient, crop to the body, resample, normalize) and the resumable on-disk cache.

Per case the cache holds ``<case>.npy`` (float32 image, memory-mapped at training), ``<case>_seg.npy`` (uint8
label, when labeled), ``<case>_fg.npy`` (a sample of foreground voxel coordinates for oversampling) and
``<case>_<key>.npy`` (uint8 auxiliary maps such as ``tissue``, when the catalog has them) and
``<case>.json`` (source geometry, crop box, preprocessed geometry, the source file's absolute path and
size/mtime, and the plan hash; prediction reuses a case that matches all of them,
:mod:`crosspan.inference.plancache`). A case whose JSON matches the current source file and plan hash is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from crosspan.core.atomic import atomic_path, write_json
from crosspan.core.errors import CrosspanError
from crosspan.core.seeding import rng
from crosspan.data.guards import inside
from crosspan.data.inspect import LABEL_MAP_FIX, label_values_text
from crosspan.data.io import properties_from_sitk, read_sitk
from crosspan.preprocess.geometry import crop, props_of, reorient, resample_to_spacing
from crosspan.preprocess.normalize import bbox, body_mask, nyul_normalize, zscore
from crosspan.preprocess.plan import Preprocessing

MAX_FG_POINTS = 5000


@dataclass
class Preprocessed:
    image: np.ndarray  # (z, y, x) float32, normalized
    label: np.ndarray | None  # (z, y, x) uint8
    meta: dict[str, Any]  # source/preprocessed geometry, crop box


def file_stat(path: str | Path) -> list[float]:
    """``[size, mtime]`` of a file (of a DICOM folder: total size, newest mtime): what a cached case records."""
    p = Path(path)
    if p.is_dir():
        files = sorted(p.iterdir())
        return [float(sum(f.stat().st_size for f in files)), max((f.stat().st_mtime for f in files), default=0.0)]
    st = p.stat()
    return [float(st.st_size), float(st.st_mtime)]


def preprocess_image(img: sitk.Image, plan: Preprocessing, label: sitk.Image | None = None,
                     label_path: str | Path | None = None) -> Preprocessed:
    """Apply the plan to one SimpleITK image (and its label)."""
    source = properties_from_sitk(img)
    img_o = reorient(sitk.Cast(img, sitk.sitkFloat32), plan.orientation)
    arr = sitk.GetArrayFromImage(img_o)
    mask = body_mask(arr, plan.mask_method) if plan.crop == "body" else np.ones(arr.shape, bool)
    box = bbox(mask)
    img_c = resample_to_spacing(crop(img_o, box), plan.target_spacing, is_label=False)
    mask_img = sitk.GetImageFromArray(mask.astype(np.uint8))
    mask_img.CopyInformation(img_o)
    mask_c = sitk.GetArrayFromImage(resample_to_spacing(crop(mask_img, box), plan.target_spacing, True)) > 0
    norm = plan.normalization
    norm_mask = mask_c if norm.mask == "body" else None
    if norm.scheme == "nyul":
        image = nyul_normalize(sitk.GetArrayFromImage(img_c), norm_mask, norm.landmarks or {})
    else:
        image = zscore(sitk.GetArrayFromImage(img_c), norm_mask, norm.clip)
    seg = None
    if label is not None:
        seg = label_to_grid(label, img, plan, box, label_path)
        if seg.max(initial=0) > 1:
            raise CrosspanError(label_path, f"label values {sorted(np.unique(seg).tolist())[:6]} beyond 0/1",
                                LABEL_MAP_FIX)
    meta = {"source": source.to_dict(), "source_orientation": source.orientation, "crop_bbox": box,
            "preprocessed": props_of(img_c).to_dict()}
    return Preprocessed(image=image, label=seg, meta=meta)


def label_to_grid(label: sitk.Image, img: sitk.Image, plan: Preprocessing, box: Sequence[Sequence[int]],
                  path: str | Path | None = None) -> np.ndarray:
    """A label-like map on ``img``'s voxel grid through the plan's reorientation, crop and nearest resampling."""
    if tuple(label.GetSize()) != tuple(img.GetSize()):
        raise CrosspanError(path, f"map size {label.GetSize()} differs from its image {img.GetSize()}",
                            "resample the map onto its image's grid or fix the dataset")
    values = sitk.GetArrayViewFromImage(label)
    if np.issubdtype(values.dtype, np.floating) and not np.all(np.mod(values, 1) == 0):
        raise CrosspanError(path, f"label map has non-integer values ({label_values_text(np.unique(values))})",
                            LABEL_MAP_FIX)
    if values.min(initial=0) < 0 or values.max(initial=0) > 255:
        raise CrosspanError(path, f"label map values outside 0..255 ({label_values_text(np.unique(values))})",
                            LABEL_MAP_FIX)
    lab = sitk.Cast(label, sitk.sitkUInt8)
    lab.CopyInformation(img)  # voxel arrays agree; headers may drift (PanSegData), the image's wins
    lab_c = resample_to_spacing(crop(reorient(lab, plan.orientation), box), plan.target_spacing, True)
    return sitk.GetArrayFromImage(lab_c).astype(np.uint8)


def foreground_points(mask: np.ndarray, case_id: str) -> np.ndarray:
    """(n, 3) int32 coordinates of the voxels > 0, at most ``MAX_FG_POINTS`` of them (a sample seeded by the case)."""
    fg = np.argwhere(np.asarray(mask) > 0).astype(np.int32)
    if len(fg) > MAX_FG_POINTS:
        fg = fg[rng(case_id, "fg").choice(len(fg), MAX_FG_POINTS, replace=False)]
    return fg


def load_cached(meta_path: str | Path, image: str | Path, plan_hash: str) -> Preprocessed | None:
    """The cached preprocessed image (no label) of ``image``, or None unless the entry ``meta_path`` was written
    for this very file (same absolute path, size and mtime) under the plan with ``plan_hash`` and is complete.
    Entries from before ``image_path`` was recorded (their ``image`` may be relative to another folder) never match."""
    import json

    meta_path = Path(meta_path)
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or not all(k in meta for k in ("image_path", "image_stat", "source", "preprocessed")):
        return None
    try:
        same = (meta.get("plan_hash") == plan_hash and Path(meta["image_path"]) == Path(image).resolve()
                and meta["image_stat"] == file_stat(image))
        arr = np.load(meta_path.with_suffix(".npy")) if same else None
    except (OSError, ValueError):
        return None
    if arr is None or list(arr.shape) != list(meta["preprocessed"]["shape"]):
        return None
    keep = ("source", "source_orientation", "crop_bbox", "preprocessed")
    return Preprocessed(image=arr, label=None, meta={k: meta[k] for k in keep if k in meta})


def _save_npy(arr: np.ndarray, path: Path) -> None:
    with atomic_path(path) as tmp:
        np.save(tmp, arr)


def cache_paths(cache_dir: str | Path, case_id: str) -> dict[str, Path]:
    d = Path(cache_dir)
    return {"image": inside(d, f"{case_id}.npy"), "label": inside(d, f"{case_id}_seg.npy"),
            "fg": inside(d, f"{case_id}_fg.npy"), "meta": inside(d, f"{case_id}.json")}


def aux_path(cache_dir: str | Path, case_id: str, key: str) -> Path:
    """Cached auxiliary map ``key`` (``tissue``, ``pseudo_label``) of a case."""
    return inside(cache_dir, f"{case_id}_{key}.npy")


def is_cached(job: dict[str, Any]) -> bool:
    import json

    p = cache_paths(job["cache_dir"], job["case_id"])
    if not (p["meta"].is_file() and p["image"].is_file()):
        return False
    try:
        meta = json.loads(p["meta"].read_text())
    except ValueError:
        return False
    want_label = bool(job.get("label"))
    aux = job.get("aux", {})
    return (meta.get("plan_hash") == job["plan_hash"] and meta.get("image_stat") == file_stat(job["image"])
            and meta.get("has_label") == want_label and (not want_label or p["label"].is_file())
            and meta.get("aux", {}) == {k: file_stat(v) for k, v in aux.items()}
            and meta.get("scalars", {}) == job.get("scalars", {})
            and all(aux_path(job["cache_dir"], job["case_id"], k).is_file() for k in aux))


def cache_case(job: dict[str, Any]) -> dict[str, Any]:
    """Worker: preprocess one catalog row into the cache unless already there. Returns a summary row."""
    case_id = job["case_id"]
    if is_cached(job):
        return {"case_id": case_id, "status": "cached"}
    img = read_sitk(job["image"])
    lab = read_sitk(job["label"]) if job.get("label") else None
    pre = preprocess_image(img, job["plan"], lab, job.get("label"))
    p = cache_paths(job["cache_dir"], case_id)
    _save_npy(pre.image, p["image"])
    if pre.label is not None:
        _save_npy(pre.label, p["label"])
        _save_npy(foreground_points(pre.label, case_id), p["fg"])
    for key, path in job.get("aux", {}).items():
        arr = label_to_grid(read_sitk(path), img, job["plan"], pre.meta["crop_bbox"], path)
        _save_npy(arr, aux_path(job["cache_dir"], case_id, key))
    meta = dict(pre.meta, case_id=case_id, plan_hash=job["plan_hash"], image=str(job["image"]),
                image_path=str(Path(job["image"]).resolve()), image_stat=file_stat(job["image"]),
                has_label=pre.label is not None, shape=list(pre.image.shape),
                aux={k: file_stat(v) for k, v in job.get("aux", {}).items()}, scalars=job.get("scalars", {}),
                pid=os.getpid())
    write_json(p["meta"], meta)  # written last: its presence marks the case complete
    return {"case_id": case_id, "status": "done"}
