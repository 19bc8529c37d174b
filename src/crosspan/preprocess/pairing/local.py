"""Local refinement of a label transport (ours, issue #17): a rigid fit of the region around the label, then a
per-slice translation search.

Mutual information over the whole field of view is dominated by the body outline and the large organs, so a
T1 -> HASTE fit can slide several millimetres where the pancreas is. :func:`local_rigid` fits only a box around
the label (the source label in the scanner frame plus a margin), starting from the scanner frame. Single-shot 2D
acquisitions (HASTE) put each slice at its own breathing position, which no rigid transform follows; as in
slice-to-volume registration (Rousseau et al., Acad. Radiol. 2006; Kuklisova-Murgasova et al., MedIA 2012),
:func:`slice_search` gives each target slice the translation, from a small grid around the fit, that maximizes
that slice's mutual information with the moved source image, less a penalty on the shift's length.
"""

from __future__ import annotations

import itertools

import numpy as np
import SimpleITK as sitk

from crosspan.data.io import ImageProperties, properties_from_sitk, to_sitk
from crosspan.preprocess.pairing.registration import Registration, register_rigid, transport_label

#: mm of context around the label in the fitted box, and the grid of per-slice shifts searched: (x, y, z) in mm of
#: the target's physical frame; craniocaudal (z) breathing dominates (the in-plane shifts of a breath are smaller)
BOX_MARGIN_MM = 40.0
SLICE_SHIFTS_Z = tuple(np.arange(-9.0, 9.01, 1.5))
SLICE_SHIFTS_Y = (-3.0, -1.5, 0.0, 1.5, 3.0)
SHIFT_PENALTY = 0.002  # nats of slice MI per mm of shift: the nearer of two equal fits wins
BINS = 24


def label_box(label: np.ndarray, spacing: tuple[float, ...], margin_mm: float = BOX_MARGIN_MM
              ) -> tuple[slice, ...] | None:
    """The (z, y, x) slices of the bounding box of ``label`` grown by ``margin_mm`` (None: empty label)."""
    idx = np.nonzero(label)
    if not idx[0].size:
        return None
    grow = [int(np.ceil(margin_mm / s)) for s in spacing]
    return tuple(slice(max(int(i.min()) - g, 0), int(i.max()) + g + 1) for i, g in zip(idx, grow, strict=True))


def inside(box: tuple[slice, ...], shape: tuple[int, ...]) -> tuple[slice, ...]:
    """``box`` clipped to an array of ``shape``."""
    return tuple(slice(b.start, min(b.stop, n)) for b, n in zip(box, shape, strict=True))


def crop(img: sitk.Image, box: tuple[slice, ...]) -> sitk.Image:
    """The sub-image of ``box`` ((z, y, x) array slices), physical geometry kept."""
    sub = inside(box, img.GetSize()[::-1])[::-1]  # ITK (x, y, z) order
    return sitk.RegionOfInterest(img, [b.stop - b.start for b in sub], [b.start for b in sub])


def local_rigid(target: np.ndarray, tprops: ImageProperties, source: np.ndarray, sprops: ImageProperties,
                box: tuple[slice, ...], iterations: int = 100, seed: int = 0) -> Registration:
    """Rigid fit of the whole ``source`` onto the ``box`` of ``target`` only, from the scanner frame."""
    boxed = properties_from_sitk(crop(to_sitk(np.zeros(target.shape, np.uint8), tprops), box))
    sub = inside(box, target.shape)
    return register_rigid(target[sub], boxed, source, sprops, iterations=iterations, seed=seed, init="identity",
                          shrink=(1,), smoothing=(0.0,), grid_mm=None, learning_rate=1.0)


def _quantized(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip(((a - lo) / max(hi - lo, 1e-6) * BINS).astype(np.int64), 0, BINS - 1)


def slice_mutual_information(fixed_q: np.ndarray, moving_q: np.ndarray) -> np.ndarray:
    """Mutual information (nats) of each row pair of two (slices, voxels) arrays of bin indices."""
    n = fixed_q.shape[0]
    idx = fixed_q * BINS + moving_q + (np.arange(n) * BINS * BINS)[:, None]
    h = np.bincount(idx.ravel(), minlength=n * BINS * BINS).reshape(n, BINS, BINS).astype(np.float64)
    h /= np.maximum(h.sum((1, 2), keepdims=True), 1.0)
    px, py = h.sum(2, keepdims=True), h.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(h > 0, h * np.log(h / (px * py)), 0.0)
    return terms.sum((1, 2))


def _shifted(transform: sitk.Transform, shift: tuple[float, float, float]) -> sitk.Transform:
    out = sitk.CompositeTransform(3)
    out.AddTransform(transform)
    out.AddTransform(sitk.TranslationTransform(3, [float(v) for v in shift]))
    return out


def slice_search(target: np.ndarray, tprops: ImageProperties, source: np.ndarray, sprops: ImageProperties,
                 label: np.ndarray, lprops: ImageProperties, registration: Registration, box: tuple[slice, ...],
                 shifts: tuple[tuple[float, float, float], ...] | None = None, penalty: float = SHIFT_PENALTY
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(The source ``label`` on the target grid, each slice of ``box`` moved by its own best shift on top of
    ``registration``; the (slices, 3) shifts in mm, x y z). Slices outside the box keep the plain transport."""
    if shifts is None:
        shifts = tuple((0.0, y, z) for y, z in itertools.product(SLICE_SHIFTS_Y, SLICE_SHIFTS_Z))
    ref_full = to_sitk(np.zeros(target.shape, np.float32), tprops)
    ref = crop(ref_full, box)
    src = to_sitk(source.astype(np.float32), sprops)
    lab = to_sitk(label.astype(np.uint8), lprops)
    sub = inside(box, target.shape)
    fixed = target[sub].reshape(target[sub].shape[0], -1)
    f_lo, f_hi = np.percentile(fixed, [1, 99])
    s_lo, s_hi = np.percentile(source, [1, 99])
    fixed_q = _quantized(fixed, float(f_lo), float(f_hi))
    best = np.full(fixed.shape[0], -np.inf)
    choice = np.zeros((fixed.shape[0], 3))
    for shift in shifts:
        moved = sitk.GetArrayFromImage(sitk.Resample(src, ref, _shifted(registration.transform, shift),
                                                     sitk.sitkLinear, 0.0, sitk.sitkFloat32))
        score = slice_mutual_information(fixed_q, _quantized(moved.reshape(fixed.shape[0], -1), s_lo, s_hi))
        score -= penalty * float(np.linalg.norm(shift))
        better = score > best
        best[better], choice[better] = score[better], shift
    out = transport_label(label, lprops, tprops, registration)
    for shift in {tuple(s) for s in choice}:
        rows = np.nonzero((choice == shift).all(1))[0]
        moved = sitk.GetArrayFromImage(sitk.Resample(lab, ref, _shifted(registration.transform, shift),
                                                     sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8))
        view = out[sub]  # a view: writing it writes ``out``
        view[rows] = moved[rows]
    return out, choice
