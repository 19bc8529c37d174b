"""Segmentation metrics in one pass over a bounding-box crop, in the DeepMind ``surface-distance`` convention.

Overlap: Dice, IoU, precision, recall, under-segmentation (1 - recall), relative volume error.
Surface (Nikolov et al. 2021, "Clinically applicable segmentation of head and neck anatomy for radiotherapy",
arXiv:1809.04430, reference code ``deepmind/surface-distance``): the surface is the set of corners of the voxel
grid whose 2x2x2 neighbourhood is mixed; each corner carries the area of its marching-cubes surfels for the given
spacing. HD95 is the maximum of the two directed, area-weighted 95th percentiles; ASSD is the mean of the two
directed area-weighted mean distances; NSD is the surface Dice at a tolerance in mm. Distances come from
``scipy.ndimage.distance_transform_edt`` with ``sampling=spacing`` on the crop only (exact: every surface corner
lies inside the crop, and the crop is the union bounding box plus one voxel).

Empty masks (shared REFERENCE.md section 6): both empty -> overlap scores 1, distances 0, NSD 1; one empty ->
Dice/IoU/precision/recall/NSD 0, distances = the diagonal of the full image in mm ("worst"), with the flags
``gt_empty``/``pred_empty`` so that aggregation can treat those rows explicitly.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import distance_transform_edt

from crosspan.core.dice import dice_from_counts
from crosspan.evaluation._surfel_table import ENCODING_KERNEL, neighbour_code_normals

METRICS = ("dice", "iou", "precision", "recall", "under_seg", "rve", "hd95", "assd", "nsd")
COUNTS = ("pred_voxels", "gt_voxels", "pred_ml", "gt_ml")
FLAGS = ("gt_empty", "pred_empty")
CONVENTION = ("DeepMind surface-distance: surfel-area weighted surface distances; HD95 = max of the two directed "
              "95th percentiles; ASSD = mean of the two directed means; NSD = surface Dice at tolerance")




@functools.lru_cache(maxsize=64)
def surfel_area_table(spacing: tuple[float, float, float]) -> np.ndarray:
    """Surfel area in mm^2 of each of the 256 neighbour codes for voxel ``spacing`` (z, y, x) in mm."""
    sz, sy, sx = spacing
    scale = np.array([sy * sx, sz * sx, sz * sy])
    table = np.linalg.norm(neighbour_code_normals() * scale, axis=-1).sum(axis=-1)
    table.setflags(write=False)
    return table


def neighbour_codes(padded: np.ndarray) -> np.ndarray:
    """8-bit code of every 2x2x2 neighbourhood of a uint8 0/1 array (output is one smaller on each axis)."""
    out_shape = tuple(s - 1 for s in padded.shape)
    code = np.zeros(out_shape, dtype=np.uint8)
    for a in range(2):
        for b in range(2):
            for c in range(2):
                bit = int(ENCODING_KERNEL[a][b][c]).bit_length() - 1
                sl = padded[a:a + out_shape[0], b:b + out_shape[1], c:c + out_shape[2]]
                code |= sl << np.uint8(bit)
    return code


@dataclass
class SurfaceDistances:
    """Unsorted per-surfel distances (mm) to the other surface and surfel areas (mm^2), both directions."""

    gt_to_pred: np.ndarray
    area_gt: np.ndarray
    pred_to_gt: np.ndarray
    area_pred: np.ndarray


def bounding_box(mask: np.ndarray) -> tuple[slice, ...] | None:
    """Slices of the smallest box holding all true voxels of ``mask``; None when it is empty."""
    out = []
    for axis in range(mask.ndim):
        proj = np.any(mask, axis=tuple(i for i in range(mask.ndim) if i != axis))
        idx = np.flatnonzero(proj)
        if idx.size == 0:
            return None
        out.append(slice(int(idx[0]), int(idx[-1]) + 1))
    return tuple(out)


def _surface(crop: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    padded = np.zeros(tuple(s + 2 for s in crop.shape), dtype=np.uint8)
    padded[1:-1, 1:-1, 1:-1] = crop
    code = neighbour_codes(padded)
    border = (code != 0) & (code != 255)
    return border, table[code[border]]


def surface_distances(pred_crop: np.ndarray, gt_crop: np.ndarray, spacing: tuple[float, float, float]
                      ) -> SurfaceDistances:
    """Surface distances of two non-empty boolean masks that share one (cropped) grid."""
    table = surfel_area_table(tuple(float(s) for s in spacing))
    border_p, area_p = _surface(pred_crop, table)
    border_g, area_g = _surface(gt_crop, table)
    dist_to_g = distance_transform_edt(~border_g, sampling=spacing)
    dist_to_p = distance_transform_edt(~border_p, sampling=spacing)
    return SurfaceDistances(dist_to_p[border_g], area_g, dist_to_g[border_p], area_p)


def directed_percentile(dist: np.ndarray, area: np.ndarray, percent: float) -> float:
    """Area-weighted percentile of one direction (sorted by distance, then area, as surface-distance does)."""
    order = np.lexsort((area, dist))
    d, a = dist[order], area[order]
    cum = np.cumsum(a) / np.sum(a)
    idx = int(np.searchsorted(cum, percent / 100.0))
    return float(d[min(idx, len(d) - 1)])


def surface_metrics(sd: SurfaceDistances, tolerance_mm: float, percent: float = 95.0) -> dict[str, float]:
    """HD``percent``, ASSD and NSD at ``tolerance_mm`` from :class:`SurfaceDistances`."""
    hd = max(directed_percentile(sd.gt_to_pred, sd.area_gt, percent),
             directed_percentile(sd.pred_to_gt, sd.area_pred, percent))
    sum_g, sum_p = float(np.sum(sd.area_gt)), float(np.sum(sd.area_pred))
    mean_g = float(np.sum(sd.gt_to_pred * sd.area_gt)) / sum_g
    mean_p = float(np.sum(sd.pred_to_gt * sd.area_pred)) / sum_p
    close = float(np.sum(sd.area_gt[sd.gt_to_pred <= tolerance_mm])) + float(
        np.sum(sd.area_pred[sd.pred_to_gt <= tolerance_mm]))
    return {"hd95": hd, "assd": 0.5 * (mean_g + mean_p), "nsd": close / (sum_g + sum_p)}


def image_diagonal_mm(shape: tuple[int, ...], spacing: tuple[float, ...]) -> float:
    """The diagonal of the whole image in mm: the "worst" distance for an empty mask."""
    return float(math.sqrt(sum((n * s) ** 2 for n, s in zip(shape, spacing, strict=True))))


def _check(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from ground-truth shape {gt.shape}")
    if pred.ndim != 3 or len(spacing) != 3:
        raise ValueError(f"expected 3D masks and 3 spacings, got shape {pred.shape} and spacing {spacing}")
    if min(spacing) <= 0:
        raise ValueError(f"spacing must be positive, got {spacing}")
    return pred.astype(bool, copy=False), gt.astype(bool, copy=False)


def compute_metrics(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...],
                    tolerance_mm: float = 2.0, percent: float = 95.0) -> dict[str, Any]:
    """All metrics of one binary prediction against its ground truth; ``spacing`` in (z, y, x) mm.

    Returns ``dice, iou, precision, recall, under_seg, rve, hd95, assd, nsd, pred_voxels, gt_voxels, pred_ml,
    gt_ml, gt_empty, pred_empty``. Values equal DeepMind ``surface-distance`` to floating-point precision.
    """
    pred, gt = _check(pred, gt, spacing)  # refuses a spacing that is not (z, y, x)
    sz, sy, sx = (float(s) for s in spacing)
    spacing = (sz, sy, sx)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    box = bounding_box(pred | gt)
    if box is None:
        n_p = n_g = tp = 0
    else:
        p, g = pred[box], gt[box]
        n_p, n_g, tp = int(np.count_nonzero(p)), int(np.count_nonzero(g)), int(np.count_nonzero(p & g))
    out: dict[str, Any] = {"dice": dice_from_counts(tp, n_p, n_g, empty=1.0)}
    if n_p == 0 and n_g == 0:
        out.update(iou=1.0, precision=1.0, recall=1.0, under_seg=0.0, rve=0.0, hd95=0.0, assd=0.0, nsd=1.0)
    elif n_p == 0 or n_g == 0:
        worst = image_diagonal_mm(pred.shape, spacing)
        out.update(iou=0.0, precision=0.0, recall=0.0, under_seg=1.0,
                   rve=-1.0 if n_p == 0 else float("nan"), hd95=worst, assd=worst, nsd=0.0)
    else:
        out.update(iou=tp / (n_p + n_g - tp), precision=tp / n_p, recall=tp / n_g)
        out.update(under_seg=1.0 - out["recall"], rve=(n_p - n_g) / n_g)
        out.update(surface_metrics(surface_distances(p, g, (sz, sy, sx)), tolerance_mm, percent))
    out.update(pred_voxels=n_p, gt_voxels=n_g, pred_ml=n_p * voxel_ml, gt_ml=n_g * voxel_ml,
               gt_empty=n_g == 0, pred_empty=n_p == 0)
    return out
