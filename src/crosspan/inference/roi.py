"""Coarse-to-fine sliding window (``crosspan predict --roi auto``): the full-overlap window only where the pancreas is.

The gland fills a few percent of an abdominal field of view, and a 0.5-overlap window evaluates every region about
eight times, so most of a volume's network time goes to background tiles. Here:

1. coarse pass: the same network, overlap ``coarse_overlap`` (default 0: every voxel seen about once), constant
   blending, no TTA, on the image shrunk ``coarse_zoom`` times (default 1: not shrunk; probabilities resized back);
2. region: the bounding box of every voxel whose coarse foreground probability exceeds ``threshold``, grown by
   ``margin`` voxels a side (default a quarter patch) and to at least one patch (so no tile sees padding);
3. fine pass: :func:`predict_volume` (Gaussian blending, ``overlap``, TTA) on that crop, pasted back; every voxel
   outside it is background;
4. fallback, logged: the coarse pass finds nothing -> the full window; fine foreground (> ``threshold``) touching
   a face of the crop that is not a face of the image -> grow that side by half a patch (``max_widen`` times),
   then the full window; a region that needs as many tiles as the full window -> the full window.

Inside the region the values are the full-overlap Gaussian window's on a grid shifted to the crop, not the full
window's own grid, so they differ where the network depends on a tile's position (measured in
``tests/inference/test_roi.py``, ``benchmarks/roi_accuracy_synth.py`` and docs/engine.md). With ``align=True``
(``--roi aligned``) the crop is widened to the full window's own tiles (:func:`snap_to_grid`): those are then
evaluated exactly as the full window evaluates them, at the price of more fine tiles.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from monai.data.utils import dense_patch_slices
from scipy import ndimage

from crosspan.methods.base import Method
from crosspan.methods.sliding import predict_volume

log = logging.getLogger(__name__)
ROI_MODES = ("none", "auto", "aligned")
Box = list[tuple[int, int]]


@dataclass
class RoiReport:
    """What one coarse-to-fine prediction did: tiles evaluated in each pass and against the full window."""

    tiles_coarse: int = 0
    tiles_fine: int = 0  # all fine passes, widenings and a full-window fallback included
    tiles_full_window: int = 0  # what the plain full window evaluates on this volume
    box: Box | None = None
    widened: int = 0
    fallback: str = ""

    @property
    def tiles(self) -> int:
        return self.tiles_coarse + self.tiles_fine

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tiles": self.tiles}


def window_tiles(shape: tuple[int, ...] | list[int], patch: list[int], overlap: float) -> int:
    """Number of tiles MONAI's ``sliding_window_inference`` evaluates on ``shape`` (its padding and scan grid)."""
    padded = [max(int(s), p) for s, p in zip(shape, patch, strict=True)]
    interval = [p if s == p else max(int(p * (1 - overlap)), 1) for s, p in zip(padded, patch, strict=True)]
    return len(dense_patch_slices(padded, patch, interval))


def grow(box: Box, margin: list[int], patch: list[int], shape: tuple[int, ...]) -> Box:
    """``box`` grown by ``margin`` a side, then centred up to one patch where shorter, clipped to the image."""
    out = []
    for (lo, hi), m, p, n in zip(box, margin, patch, shape, strict=True):
        lo, hi = max(0, lo - m), min(n, hi + m)
        if hi - lo < min(p, n):
            lo = int(np.clip((lo + hi) // 2 - p // 2, 0, max(0, n - p)))
            hi = min(n, lo + p)
        out.append((lo, hi))
    return out


def snap_to_grid(box: Box, patch: list[int], overlap: float, shape: tuple[int, ...]) -> Box:
    """``box`` widened to whole tiles of the full window's grid (MONAI's: starts ``i * interval``, the last one
    clipped to the image), so MONAI's window on the crop evaluates exactly those tiles."""
    out = []
    for (lo, hi), p, n in zip(box, patch, shape, strict=True):
        if n <= p:
            out.append((0, n))
            continue
        step = max(int(p * (1 - overlap)), 1)
        start = min(lo // step * step, n - p)
        end = start + int(np.ceil(max(0, hi - start - p) / step)) * step + p
        out.append((start, min(end, n)))
    return out


def touching_sides(fg: np.ndarray, box: Box, shape: tuple[int, ...]) -> list[tuple[int, int]]:
    """``(axis, side)`` pairs (side 0 low, 1 high) where ``fg`` (crop-sized) reaches a crop face inside the image."""
    sides = []
    for axis, (lo, hi) in enumerate(box):
        if lo > 0 and np.take(fg, 0, axis=axis).any():
            sides.append((axis, 0))
        if hi < shape[axis] and np.take(fg, -1, axis=axis).any():
            sides.append((axis, 1))
    return sides


def _widen(box: Box, sides: list[tuple[int, int]], patch: list[int], shape: tuple[int, ...]) -> Box:
    out = [list(b) for b in box]
    for axis, side in sides:
        step = max(1, patch[axis] // 2)
        out[axis][side] = max(0, out[axis][0] - step) if side == 0 else min(shape[axis], out[axis][1] + step)
    return [(lo, hi) for lo, hi in out]


@torch.no_grad()
def predict_volume_roi(method: Method, image: np.ndarray, patch: list[int], overlap: float = 0.5, tta: bool = False,
                       device: str | torch.device = "cpu", amp: str = "none", coarse_overlap: float = 0.0,
                       threshold: float = 0.1, margin: list[int] | None = None, max_widen: int = 1,
                       sw_batch_size: int = 2, coarse_zoom: float = 1.0, align: bool = False
                       ) -> tuple[np.ndarray, RoiReport]:
    """Class probabilities (2, z, y, x) as :func:`predict_volume`, from the coarse-to-fine window (module doc)."""
    shape = tuple(int(s) for s in image.shape)
    margin = margin if margin is not None else [p // 4 for p in patch]
    flips = 8 if tta else 1
    rep = RoiReport(tiles_full_window=window_tiles(shape, patch, overlap) * flips)
    counter = [0]
    coarse = coarse_probability(method, image, patch, coarse_overlap, coarse_zoom, device, amp, sw_batch_size,
                                counter)
    rep.tiles_coarse, counter[0] = counter[0], 0
    found = ndimage.find_objects((coarse > threshold).astype(np.int8))
    if not found:
        return _full(method, image, patch, overlap, tta, device, amp, sw_batch_size, rep, "coarse pass found no "
                     f"foreground (max probability {coarse.max():.3f} <= {threshold})")
    box = grow([(s.start, s.stop) for s in found[0]], margin, patch, shape)
    while True:
        box = snap_to_grid(box, patch, overlap, shape) if align else box
        crop = tuple(slice(lo, hi) for lo, hi in box)
        if window_tiles([hi - lo for lo, hi in box], patch, overlap) * flips >= rep.tiles_full_window:
            return _full(method, image, patch, overlap, tta, device, amp, sw_batch_size, rep,
                         f"the region {box} needs as many tiles as the full window")
        fine = predict_volume(method, image[crop], patch, overlap, tta, device, amp, sw_batch_size, counter)
        rep.tiles_fine = counter[0]
        sides = touching_sides(fine[1] > threshold, box, shape)
        if not sides:
            break
        if rep.widened >= max_widen:
            return _full(method, image, patch, overlap, tta, device, amp, sw_batch_size, rep,
                         f"foreground still touches the region's border after {rep.widened} widening(s)")
        rep.widened += 1
        box = _widen(box, sides, patch, shape)
        log.info("roi: foreground touches the region's border (axis, side) %s; widened to %s", sides, box)
    rep.box = box
    prob = np.zeros((2, *shape), dtype=np.float32)
    prob[0] = 1.0
    prob[(slice(None), *crop)] = fine
    log.info("roi: %d coarse + %d fine tiles (full window: %d), region %s", rep.tiles_coarse, rep.tiles_fine,
             rep.tiles_full_window, box)
    return prob, rep


def coarse_probability(method: Method, image: np.ndarray, patch: list[int], overlap: float, zoom: float,
                       device: str | torch.device, amp: str, sw_batch_size: int, counter: list[int]) -> np.ndarray:
    """Foreground probability (z, y, x) of the coarse pass, on the image shrunk ``zoom`` times (trilinear)."""
    if zoom == 1.0:
        return predict_volume(method, image, patch, overlap, False, device, amp, sw_batch_size, counter,
                              mode="constant")[1]
    small = F.interpolate(torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None],
                          scale_factor=1.0 / zoom, mode="trilinear", align_corners=False)[0, 0].numpy()
    prob = predict_volume(method, small, patch, overlap, False, device, amp, sw_batch_size, counter,
                          mode="constant")[1]
    return F.interpolate(torch.from_numpy(prob)[None, None], size=image.shape, mode="trilinear",
                         align_corners=False)[0, 0].numpy()


def _full(method: Method, image: np.ndarray, patch: list[int], overlap: float, tta: bool,
          device: str | torch.device, amp: str, sw_batch_size: int, rep: RoiReport, reason: str
          ) -> tuple[np.ndarray, RoiReport]:
    log.warning("roi: %s; falling back to the full sliding window", reason)
    rep.fallback = reason
    counter = [0]
    prob = predict_volume(method, image, patch, overlap, tta, device, amp, sw_batch_size, counter)
    rep.tiles_fine += counter[0]
    return prob, rep
