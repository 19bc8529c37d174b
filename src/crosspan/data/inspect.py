"""Read one scan (image and label) once, and return both its catalog statistics and its problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from crosspan.core.errors import CrosspanError, Problem
from crosspan.data.io import ImageProperties, geometry_differences, read_image
from crosspan.data.layouts.base import ScanEntry

LABEL_MAP_FIX = ("map them with `crosspan data check DATASET --label-map OLD:NEW -o FIXED` (e.g. --label-map 255:1), "
                 "which writes corrected labels, or set other labels to 0")


@dataclass
class Inspection:
    """What one scan looks like: catalog statistics plus the problems found."""

    stats: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    props: ImageProperties | None = None


def _number(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() else value


def label_values_text(values: np.ndarray) -> str:
    """``0.5, 255`` for the values of a label outside {0, 1} (floats shown as they are, not truncated)."""
    extra = [float(v) for v in values if v not in (0, 1)]
    return ", ".join(f"{v:g}" for v in extra[:6]) + (" ..." if len(extra) > 6 else "")


def parse_label_map(spec: list[str] | None) -> dict[float, int]:
    """``["255:1", "2:0", "0.5:1"]`` -> ``{255: 1, 2: 0, 0.5: 1}`` (a float old value maps a soft label)."""
    out: dict[float, int] = {}
    for item in spec or []:
        for part in item.split(","):
            if not part.strip():
                continue
            try:
                old, new = part.split(":")
                out[_number(old)] = int(new)
            except ValueError as exc:
                raise CrosspanError(None, f"bad --label-map entry '{part}'", "write OLD:NEW, e.g. 255:1") from exc
    return out


def apply_label_map(label: np.ndarray, mapping: dict[float, int]) -> np.ndarray:
    if not mapping:
        return label
    out = label.copy()
    for old, new in mapping.items():
        out[label == old] = new
    return out


def inspect_scan(entry: ScanEntry, require_label: bool = True, label_map: dict[float, int] | None = None,
                 fix_label_geometry: bool = False) -> Inspection:
    """Read ``entry``'s image and label; gather statistics and every problem (never raises for bad data)."""
    res = Inspection()
    img_path = str(entry.image)
    try:
        image, props = read_image(entry.image)
    except CrosspanError as err:
        res.problems.append(Problem(img_path, err.problem, err.fix, code=_code(err)))
        return res
    res.props = props
    res.stats.update(_image_stats(image, props))
    if entry.label is None:
        if require_label:
            res.problems.append(Problem(img_path, "image has no label", "add the label file, or mark the scan "
                                        "unlabeled (split 'unlabeled' in a manifest) or pass --no-require-labels",
                                        code="missing_label"))
        return res
    lbl_path = str(entry.label)
    try:
        label, lprops = read_image(entry.label)
    except CrosspanError as err:
        res.problems.append(Problem(lbl_path, err.problem, err.fix, code=_code(err)))
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
    extra = [v for v in values if v not in (0, 1)]
    if extra:
        res.problems.append(Problem(lbl_path, f"label values outside {{0,1}}: {label_values_text(values)}",
                                    LABEL_MAP_FIX,
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


def _code(err: CrosspanError) -> str:
    return err.code if err.code not in ("generic", "missing") else "unreadable"


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
