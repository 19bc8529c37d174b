"""Reorientation and resampling with SimpleITK; every step keeps physical coordinates.

Images resample with cubic B-splines, labels with nearest neighbour. Because a preprocessed volume keeps its
physical geometry (origin, spacing, direction), a prediction goes back to the source grid with one resample
onto the source image (undoing crop, resampling and reorientation at once).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import SimpleITK as sitk

from crosspan.data.io import ImageProperties, properties_from_sitk, to_sitk

CANONICAL = "LPS"
_AXIS_OF_LETTER = {"L": 0, "R": 0, "P": 1, "A": 1, "S": 2, "I": 2}


def reorient(img: sitk.Image, code: str = CANONICAL) -> sitk.Image:
    """Reorient ``img`` to the orientation ``code`` (a permutation/flip of axes; no interpolation)."""
    return sitk.DICOMOrient(img, code)


def canonical_spacing(spacing_zyx: tuple[float, ...], orientation: str) -> tuple[float, float, float]:
    """Spacing (z, y, x) of a source volume after reorientation to LPS, from its orientation code.

    ``orientation`` names where each SimpleITK axis (x, y, z) points; after reorientation itk axis ``c`` is the
    one whose letter maps to ``c``.
    """
    itk_spacing = list(reversed([float(s) for s in spacing_zyx]))
    if len(orientation) != 3 or any(ch not in _AXIS_OF_LETTER for ch in orientation):
        z, y, x = (float(s) for s in spacing_zyx)
        return z, y, x
    out = [0.0, 0.0, 0.0]
    for i, ch in enumerate(orientation):
        out[_AXIS_OF_LETTER[ch]] = itk_spacing[i]
    return (out[2], out[1], out[0])


def resample_to_spacing(img: sitk.Image, spacing_zyx: tuple[float, ...], is_label: bool) -> sitk.Image:
    """Resample onto a grid with ``spacing_zyx`` covering the same physical extent (same origin/direction)."""
    new_sp = tuple(float(s) for s in reversed(spacing_zyx))
    old_sp = img.GetSpacing()
    size = [max(1, int(round(n * o / s))) for n, o, s in zip(img.GetSize(), old_sp, new_sp, strict=True)]
    interp = sitk.sitkNearestNeighbor if is_label else sitk.sitkBSpline
    return sitk.Resample(img, size, sitk.Transform(), interp, img.GetOrigin(), new_sp, img.GetDirection(), 0.0,
                         img.GetPixelID())


def crop(img: sitk.Image, bbox_zyx: Sequence[Sequence[int]]) -> sitk.Image:
    """Crop to ``[(z0, z1), (y0, y1), (x0, x1)]`` (end exclusive), keeping physical geometry."""
    index = [int(b[0]) for b in reversed(bbox_zyx)]
    size = [int(b[1] - b[0]) for b in reversed(bbox_zyx)]
    return sitk.RegionOfInterest(img, size, index)


def to_source_grid(array: np.ndarray, props: ImageProperties, source: ImageProperties, is_label: bool,
                   default: float = 0.0) -> np.ndarray:
    """Resample ``array`` (geometry ``props``) onto the source grid ``source``; outside the crop -> ``default``."""
    moving = to_sitk(array.astype(np.uint8 if is_label else np.float32), props)
    ref = to_sitk(np.zeros(source.shape, np.uint8), source)
    interp = sitk.sitkNearestNeighbor if is_label else sitk.sitkLinear
    out = sitk.Resample(moving, ref, sitk.Transform(), interp, default, moving.GetPixelID())
    return sitk.GetArrayFromImage(out)


def props_of(img: sitk.Image) -> ImageProperties:
    return properties_from_sitk(img)
