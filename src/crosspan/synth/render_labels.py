"""Render any folder of label maps (the cohort's tissue maps, TotalSegmentator CT/MR output, a user's maps) as
multi-sequence MR images in the CrossPan release layout (issue #12).

A YAML mapping turns label ids into the tissue classes of :class:`crosspan.synth.tissues.Tissue`::

    name: my-labels
    default: muscle          # tissue of non-zero ids the mapping does not list (a warning names them)
    fill: visceral_fat       # optional: unlabelled voxels (0) inside the body hull get this tissue
    labels: {0: air, 1: spleen, 7: pancreas}

Presets live in ``crosspan/synth/label_presets/*.yaml`` (``crosspan``, ``totalseg-ct``, ``totalseg-mr``). Each
map is rendered with the cohort's renderer (:func:`crosspan.synth.scan.render_tissue_map`, signal equations of
shared PHYSICS.md) on its own grid, one center per map (round-robin over ``centers``), every sequence; the label
is the pancreas tissue, so the voxels mapped to ``pancreas`` are the label exactly. Same seed, same images.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy import ndimage

from crosspan.core.atomic import atomic_dir, write_json, write_text
from crosspan.core.errors import CrosspanError
from crosspan.core.parallel import pmap
from crosspan.core.seeding import rng
from crosspan.data.io import read_image, write_image
from crosspan.synth.cohort import check_centers
from crosspan.synth.scan import render_tissue_map
from crosspan.synth.tissues import Tissue, patient_arrays

log = logging.getLogger(__name__)
PRESET_DIR = Path(__file__).parent / "label_presets"
COLUMNS = ["case_id", "patient_id", "center", "sequence", "image", "label", "split", "tissue"]
SPLITS = ("train", "val", "test")
TISSUE_NAMES = {t.name.lower(): int(t) for t in Tissue}


def presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def preset_path(name: str) -> Path:
    path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        raise CrosspanError(None, f"unknown label preset '{name}'", f"use one of {', '.join(presets())}")
    return path


def _tissue(value: Any, path: Path, where: str) -> int:
    if isinstance(value, str) and value.strip().lower() in TISSUE_NAMES:
        return TISSUE_NAMES[value.strip().lower()]
    raise CrosspanError(path, f"{where}: '{value}' is not a tissue class",
                        f"use one of {', '.join(TISSUE_NAMES)}")


def load_mapping(path: str | Path) -> dict[str, Any]:
    """Validated mapping: ``{"name", "labels": {id: tissue}, "default": tissue, "fill": tissue or None}``."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as e:
        raise CrosspanError(path, f"cannot read the mapping file ({e.strerror})", "give an existing YAML file") from e
    except yaml.YAMLError as e:
        raise CrosspanError(path, f"not valid YAML ({str(e).splitlines()[0]})", "fix the YAML syntax") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("labels"), dict) or not doc["labels"]:
        raise CrosspanError(path, "no 'labels' mapping (label id -> tissue class)",
                            "write e.g. 'labels: {0: air, 7: pancreas}' (see docs/labelmap.md)")
    labels = {}
    for k, v in doc["labels"].items():
        try:
            lid = int(k)
        except (TypeError, ValueError):
            raise CrosspanError(path, f"label id '{k}' is not an integer", "use integer label ids as keys") from None
        if lid < 0:
            raise CrosspanError(path, f"label id {lid} is negative", "use label ids >= 0")
        labels[lid] = _tissue(v, path, f"label {lid}")
    fill = doc.get("fill")
    return {"name": str(doc.get("name", path.stem)), "labels": labels,
            "default": _tissue(doc.get("default", "muscle"), path, "default"),
            "fill": None if fill is None else _tissue(fill, path, "fill")}


def body_hull(labelled: np.ndarray, spacing: tuple[float, ...], close_mm: float = 15.0) -> np.ndarray:
    """Per axial slice: the labelled voxels closed over ``close_mm`` and with holes filled (the body around the
    organs of a map that leaves fat and soft tissue unlabelled)."""
    r = max(1, int(round(close_mm / max(float(spacing[1]), 1e-3))))
    st = ndimage.generate_binary_structure(2, 1)
    out = np.zeros_like(labelled)
    for z in range(labelled.shape[0]):
        if labelled[z].any():
            sl = np.pad(labelled[z], r)
            sl = ndimage.binary_closing(sl, st, iterations=r)[r:-r, r:-r]
            out[z] = ndimage.binary_fill_holes(sl)
    return out


def map_labels(labels: np.ndarray, mapping: dict[str, Any], spacing: tuple[float, ...] = (1.0, 1.0, 1.0)
               ) -> tuple[np.ndarray, list[int]]:
    """Tissue map (uint8) of an integer label map, and the sorted non-zero ids the mapping does not list."""
    ids = np.unique(labels)
    unknown = sorted(int(i) for i in ids if int(i) not in mapping["labels"] and int(i) != 0)
    lut_ids = np.array(sorted(set(int(i) for i in ids) | set(mapping["labels"])), dtype=np.int64)
    lut = np.array([mapping["labels"].get(int(i), mapping["default"] if i else Tissue.AIR) for i in lut_ids],
                   dtype=np.uint8)
    tissue = lut[np.searchsorted(lut_ids, labels)]
    if mapping.get("fill") is not None:
        inside = body_hull(labels != 0, spacing) & (labels == 0)
        tissue[inside] = mapping["fill"]
    return tissue, unknown


def _case_name(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii", ".nrrd", ".mha"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def label_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise CrosspanError(folder, "is not a folder", "give a folder of label maps (NIfTI .nii.gz)")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith((".nii.gz", ".nii")))
    if not files:
        raise CrosspanError(folder, "holds no label maps (*.nii.gz, *.nii)", "give a folder of NIfTI label maps")
    return files


def plan_cases(files: list[Path], centers: list[str], seed: int, split: str | None) -> list[dict[str, Any]]:
    """One job per map: center round-robin; split ``split`` for all, or ~60/20/20 per center by seed."""
    jobs = [{"path": str(p), "case": _case_name(p), "center": centers[i % len(centers)]} for i, p in enumerate(files)]
    for c in centers:
        mine = [j for j in jobs if j["center"] == c]
        order = rng(seed, "render-split", c).permutation(len(mine))
        n_train, n_val = int(round(0.6 * len(mine))), int(round(0.2 * len(mine)))
        for rank, k in enumerate(order):
            auto = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
            mine[k]["split"] = split or auto
    return jobs


#: more distinct values than this is an intensity image, not a label map (TotalSegmentator CT has 118 ids)
MAX_LABEL_IDS = 1000
LABEL_MAP_FIX = "give integer label maps (label id per voxel, e.g. TotalSegmentator's output), not images"


def read_label_map(path: str | Path) -> tuple[np.ndarray, Any]:
    """An integer label map and its geometry; a truncated, NaN, non-3D, non-integer, negative or image-like
    (more than :data:`MAX_LABEL_IDS` values) file is a :class:`CrosspanError` naming it."""
    arr, props = read_image(path)
    ids = np.unique(arr)
    fractional = ids[ids != np.round(ids)] if np.issubdtype(ids.dtype, np.floating) else ids[:0]
    if fractional.size:
        raise CrosspanError(path, f"label map has non-integer values (e.g. {float(fractional[0]):g}; a "
                            "probability map or an image?)", LABEL_MAP_FIX + "; round or threshold soft maps first")
    if ids.size and ids[0] < 0:
        raise CrosspanError(path, f"label map has negative ids ({ids[0]:g})", "use label ids >= 0")
    if ids.size > MAX_LABEL_IDS:
        raise CrosspanError(path, f"{ids.size} distinct values, more than {MAX_LABEL_IDS} label ids (an image, "
                            "not a label map?)", LABEL_MAP_FIX)
    return arr.astype(np.int64), props


def render_case(job: dict[str, Any]) -> dict[str, Any]:
    """All sequences of one label map; writes image, label, tissue map; returns manifest rows and warnings."""
    labels, props = read_label_map(job["path"])
    tissue, unknown = map_labels(labels, job["mapping"], props.spacing)
    case, root, center = job["case"], Path(job["root"]), job["centers"][job["center"]]
    params = patient_arrays(float(center["field"]), rng(job["seed"], "tissue", case), 45.0,
                            t1_bias=float(center.get("t1_bias", 1.0)))
    tissue_rel = f"tissues/{case}.nii.gz"
    write_image(tissue, props, root / tissue_rel)
    label = (tissue == Tissue.PANCREAS).astype(np.uint8)
    rows = []
    for seq in job["sequences"]:
        image = render_tissue_map(tissue, center, seq, rng(job["seed"], "scan", case, seq), params=params)
        img_rel = f"{seq}/{job['split']}/images/{case}_0000.nii.gz"
        lab_rel = f"{seq}/{job['split']}/labels/{case}.nii.gz"
        write_image(image, props, root / img_rel)
        write_image(label, props, root / lab_rel)
        rows.append({"case_id": f"{case}_{seq}", "patient_id": case, "center": job["center"], "sequence": seq,
                     "image": img_rel, "label": lab_rel, "split": job["split"], "tissue": tissue_rel})
    return {"rows": rows, "unknown": unknown, "case": case, "pancreas": int(label.sum())}


def render_folder(labels_dir: str | Path, out: str | Path, mapping: dict[str, Any], centers: dict[str, Any],
                  center_names: list[str], sequences: list[str], seed: int = 0, split: str | None = None,
                  workers: int | None = 1, progress: bool = True) -> tuple[Path, list[str]]:
    """Render every label map of ``labels_dir`` into ``out`` (appears complete or not at all); returns the
    output folder and the warnings (unmapped ids per case, maps without pancreas)."""
    out = Path(out)
    files = label_files(Path(labels_dir))
    check_centers(centers, center_names, sequences)
    if split is not None and split not in SPLITS:
        raise CrosspanError(None, f"unknown split '{split}'", f"use one of {', '.join(SPLITS)}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CrosspanError(out, "exists and is not empty", "choose a new or empty output folder")
    jobs = plan_cases(files, center_names, seed, split)
    with atomic_dir(out) as tmp:
        used = {c: centers[c] for c in center_names}
        for j in jobs:
            j.update(seed=seed, centers=used, sequences=sequences, root=str(tmp), mapping=mapping)
        results = pmap(render_case, jobs, workers=workers, description="rendering label maps", progress=progress)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows([r for res in results for r in res["rows"]])
        write_text(tmp / "manifest.csv", buf.getvalue())
        write_json(tmp / "tissues" / "classes.json", TISSUE_NAMES)
        write_json(tmp / "render.json", {"mapping": mapping["name"], "seed": seed, "centers": center_names,
                                         "sequences": sequences, "labels": str(labels_dir)})
    warnings = []
    for res in results:
        if res["unknown"]:
            warnings.append(f"{res['case']}: label ids {', '.join(map(str, res['unknown']))} not in mapping "
                            f"'{mapping['name']}', rendered as default tissue "
                            f"'{Tissue(mapping['default']).name.lower()}'")
        if res["pancreas"] == 0:
            warnings.append(f"{res['case']}: no voxel maps to pancreas (empty label)")
    for w in warnings:
        log.warning(w)
    return out, warnings
