"""Read one scan (image and label) once, and return both its catalog statistics and its problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from crosspan.data.errors import CrosspanError, Problem
from crosspan.data.io import ImageProperties, geometry_differences, read_image
from crosspan.data.layouts.base import ScanEntry

LABEL_MAP_FIX = "map them with --label-map OLD:NEW (e.g. --label-map 255:1), or set other labels to 0"


@dataclass
class Inspection:
    """What one scan looks like: catalog statistics plus the problems found."""

    stats: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    props: ImageProperties | None = None


def parse_label_map(spec: list[str] | None) -> dict[int, int]:
    """``["255:1", "2:0"]`` -> ``{255: 1, 2: 0}``."""
    out: dict[int, int] = {}
    for item in spec or []:
        for part in item.split(","):
            if not part.strip():
                continue
            try:
                old, new = part.split(":")
                out[int(old)] = int(new)
            except ValueError as exc:
                raise CrosspanError(None, f"bad --label-map entry '{part}'", "write OLD:NEW, e.g. 255:1") from exc
    return out


def apply_label_map(label: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    if not mapping:
        return label
    out = label.copy()
    for old, new in mapping.items():
        out[label == old] = new
    return out


def nifti_integrity(path: Path) -> tuple[str | None, int]:
    """(problem, non-finite voxel count) of a NIfTI file read fully with nibabel.

    ITK's NIfTI reader silently turns NaN into 0 and may accept a truncated gzip stream, so the check reads
    NIfTI voxels once more with nibabel, which raises on both.
    """
    name = str(path).lower()
    if not (name.endswith(".nii") or name.endswith(".nii.gz")):
        return None, 0
    import nibabel as nib

    try:
        data = np.asanyarray(nib.load(str(path)).dataobj)
    except Exception as exc:  # noqa: BLE001 - EOFError, zlib.error, ValueError from short buffers
        return f"unreadable or truncated image ({type(exc).__name__}: {str(exc)[:120]})", 0
    if np.issubdtype(data.dtype, np.floating):
        return None, int(np.count_nonzero(~np.isfinite(data)))
    return None, 0


def inspect_scan(entry: ScanEntry, require_label: bool = True, label_map: dict[int, int] | None = None,
                 fix_label_geometry: bool = False) -> Inspection:
    """Read ``entry``'s image and label; gather statistics and every problem (never raises for bad data)."""
    res = Inspection()
    img_path = str(entry.image)
    try:
        image, props = read_image(entry.image)
    except CrosspanError as err:
        res.problems.append(Problem(img_path, err.problem, err.fix, code="unreadable"))
        return res
    res.props = props
    broken, nonfinite = nifti_integrity(Path(entry.image))
    if broken:
        res.problems.append(Problem(img_path, broken, "re-export or re-download the file", code="unreadable"))
        return res
    if image.ndim != 3 or len(props.shape) != 3:
        res.problems.append(Problem(img_path, f"image is {image.ndim}D (shape {image.shape}), a 3D volume is needed",
                                    "export a single 3D volume (split 4D series, stack 2D slices)", code="ndim"))
        return res
    res.stats.update(_image_stats(image, props))
    if np.issubdtype(image.dtype, np.floating):
        bad = max(nonfinite, int(np.count_nonzero(~np.isfinite(image))))
        if bad:
            res.problems.append(Problem(img_path, f"{bad} NaN/Inf voxels",
                                        "re-export the image or replace non-finite voxels", code="nonfinite"))
    if entry.label is None:
        if require_label:
            res.problems.append(Problem(img_path, "image has no label", "add the label file, or mark the scan "
                                        "unlabeled (split 'unlabeled' in a manifest) or pass --no-require-labels",
                                        code="missing_label"))
        return res
    lbl_path = str(entry.label)
    broken, _ = nifti_integrity(Path(entry.label))
    if broken:
        res.problems.append(Problem(lbl_path, broken, "re-export or re-download the file", code="unreadable"))
        return res
    try:
        label, lprops = read_image(entry.label)
    except CrosspanError as err:
        res.problems.append(Problem(lbl_path, err.problem, err.fix, code="unreadable"))
        return res
    diffs = geometry_differences(props, lprops)
    if "shape" in diffs:
        res.problems.append(Problem(lbl_path, f"label shape {lprops.shape} differs from image shape {props.shape}",
                                    "re-export the label on the image grid (resample with nearest neighbour)",
                                    code="shape_mismatch"))
        return res
    if diffs and not fix_label_geometry:
        res.problems.append(Problem(
            lbl_path, f"label header {'/'.join(diffs)} differs from the image while the voxel arrays have the same "
            "shape (header-only mismatch)", "rerun with --fix-label-geometry to copy the image geometry to the label",
            code="label_geometry"))
    label = apply_label_map(label, label_map or {})
    values = np.unique(label)
    extra = [int(v) for v in values if v not in (0, 1)]
    if extra:
        shown = ", ".join(str(v) for v in extra[:6]) + (" ..." if len(extra) > 6 else "")
        res.problems.append(Problem(lbl_path, f"label values outside {{0,1}}: {shown}", LABEL_MAP_FIX,
                                    code="label_values"))
    fg = label == 1 if not extra else label > 0
    n = int(fg.sum())
    res.stats.update(label_voxels=n, label_ml=round(n * props.voxel_volume_ml(), 3),
                     label_components=int(ndimage.label(fg)[1]) if n else 0)
    if n == 0:
        res.problems.append(Problem(lbl_path, "label is empty (no pancreas voxel)",
                                    "provide the mask, or drop the label to use the scan as unlabeled",
                                    code="empty_label"))
    return res


def _image_stats(image: np.ndarray, props: ImageProperties) -> dict[str, Any]:
    finite = image[np.isfinite(image)] if np.issubdtype(image.dtype, np.floating) else image
    sample = finite.ravel()
    if sample.size > 2_000_000:
        sample = sample[:: sample.size // 1_000_000]
    p = np.percentile(sample, [0.5, 50, 99.5]) if sample.size else [np.nan] * 3
    stats: dict[str, Any] = {"orientation": props.orientation, "ndim": image.ndim}
    for i, axis in enumerate("zyx"):
        stats[f"shape_{axis}"] = int(image.shape[i])
        stats[f"spacing_{axis}"] = round(float(props.spacing[i]), 5)
    stats.update(p0_5=float(p[0]), p50=float(p[1]), p99_5=float(p[2]))
    return stats


def entry_paths(entry: ScanEntry) -> list[Path]:
    return [p for p in (entry.image, entry.label) if p is not None]
