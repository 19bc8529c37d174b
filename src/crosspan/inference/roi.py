"""Coarse-to-fine sliding window (``crosspan predict --roi auto|fast``): the full window only where the pancreas is.

The gland fills a few percent of an abdominal field of view, and a 0.5-overlap window evaluates every region about
eight times, so most of a volume's network time goes to background tiles. Here every network evaluation is one of
the full window's own tiles (MONAI ``sliding_window_inference``'s padding, grid and Gaussian map, rebuilt in
:class:`TileWindow`), each evaluated at most once and blended as the full window blends them:

1. coarse pass: ``coarse_zoom`` 1 (default): the fewest full-window tiles that cover the image (every other tile
   along each axis, about one in eight at overlap 0.5; reused below); ``coarse_zoom`` z > 1: the same network, no
   overlap, on the image shrunk z times, probabilities resized back (cheaper, not reused);
2. regions: each connected component of coarse foreground probability > ``threshold``, its bounding box grown by
   ``margin`` voxels a side (default a quarter patch);
3. fine pass: (a) with ``fine="exact"`` (``--roi auto``), whichever of (a) and (b) evaluates fewer new tiles with
   ``fine="auto"`` (``--roi fast``):
   a. exact: every full-window tile that touches a region (the coarse tiles reused). A voxel in a region then has
      all the tiles the full window gives it, so its probability is the full window's (up to float rounding);
   b. crop: the Gaussian window with its own grid on the regions' bounding box (at least a patch), the full-window
      tiles already evaluated blended in. Where the network depends on a tile's position its values differ from
      the full window's. On a pancreas-sized region of a default-size scan (a) needs nearly every tile (the gland
      spans most tile positions along x), so (b) is what saves time there. Measured on trained physics-rand
      models it moves single scans by up to -0.066 Dice against the full window, above the 0.02 that issue #22
      allows, so it is opt-in (``--roi fast``);
   voxels no evaluated tile covers are background;
   c. guard on (b): a mask can only differ from the full window's where the two blends fall on different sides of
      0.5, so where the crop pass's probability is near 0.5. When the voxels with |p - 0.5| < ``UNCERTAIN_BAND``
      (0.2) outnumber ``max_uncertain`` (0.5) times its foreground (p > 0.5), the model is unsure of much of the
      gland here, and the exact pass (a) replaces (b) for this volume, reusing every full-window tile evaluated
      (the crop's own tiles are lost); the report says so. It costs no network call and catches a model unsure
      of the whole gland, but it does not predict the crop pass's Dice change on the physics-rand models measured
      (correlation -0.18 to 0.30 with its size; the first guard, one crop tile against one full-window tile, 0.06:
      docs/engine.md);
4. fallback, logged: the coarse pass finds nothing -> the full window; fine foreground (> ``threshold``) outside
   the trusted part (a: the regions; b: the crop less its faces inside the image) -> the regions grow to cover it
   and step 3 runs again (``max_widen`` times), then the full window. The full window then evaluates only the
   tiles not yet evaluated.

Measured against the full window in ``tests/inference/test_roi.py``, ``benchmarks/probes/roi_accuracy_synth.py``
and docs/engine.md. ``--roi aligned`` is kept as another name of ``auto``.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from crosspan.core.amp import autocast
from crosspan.inference.tiles import Box, TileWindow, window_tiles
from crosspan.methods.base import Method
from crosspan.methods.sliding import inference_layout, memory_layout, predict_volume

log = logging.getLogger(__name__)
ROI_MODES = ("none", "auto", "aligned", "fast")
#: step 3c: a crop pass is redone exactly when more than MAX_UNCERTAIN of its foreground has |p - 0.5| below
#: UNCERTAIN_BAND (chosen on 54 scans of one physics-rand model; on another it missed a -0.066 scan: docs/engine.md)
UNCERTAIN_BAND = 0.2
MAX_UNCERTAIN = 0.5


@dataclass
class RoiReport:
    """What one coarse-to-fine prediction did: tiles evaluated in each pass and against the full window."""

    tiles_coarse: int = 0
    tiles_fine: int = 0  # tiles evaluated after the coarse pass (widenings and a full-window fallback included)
    tiles_full_window: int = 0  # what the plain full window evaluates on this volume
    boxes: list[Box] = field(default_factory=list)
    crop: Box | None = None  # set when the fine pass ran its own grid on this crop (module doc, step 3b)
    widened: int = 0
    fallback: str = ""
    uncertain: float | None = None  # share of the crop pass's foreground near p = 0.5 (highest; step 3c)

    @property
    def tiles(self) -> int:
        return self.tiles_coarse + self.tiles_fine

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tiles": self.tiles}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> RoiReport:
        """The report :meth:`to_dict` wrote (boxes as lists of pairs)."""
        keys = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in keys})


def regions(mask: np.ndarray, margin: list[int]) -> list[Box]:
    """Bounding box of each connected component of ``mask``, grown by ``margin`` a side, clipped to the image."""
    labels, _ = ndimage.label(mask)
    return [[(max(0, s.start - m), min(n, s.stop + m)) for s, m, n in zip(sl, margin, mask.shape, strict=True)]
            for sl in ndimage.find_objects(labels) if sl is not None]


def _mirror(boxes: list[Box], flip: tuple[int, ...], shape: tuple[int, ...]) -> list[Box]:
    """``boxes`` in the coordinates of the image flipped along tensor dims ``flip`` (2, 3, 4 = z, y, x)."""
    return [[(n - hi, n - lo) if a + 2 in flip else (lo, hi) for a, ((lo, hi), n) in enumerate(zip(b, shape,
                                                                                               strict=True))]
            for b in boxes]


def _inside(boxes: list[Box], shape: tuple[int, ...]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for box in boxes:
        mask[tuple(slice(lo, hi) for lo, hi in box)] = True
    return mask


@torch.no_grad()
def predict_volume_roi(method: Method, image: np.ndarray, patch: list[int], overlap: float = 0.5, tta: bool = False,
                       device: str | torch.device = "cpu", amp: str = "none", threshold: float = 0.1,
                       margin: list[int] | None = None, max_widen: int = 2, sw_batch_size: int = 2,
                       coarse_zoom: float = 1.0, fine: str = "auto",
                       max_uncertain: float = MAX_UNCERTAIN) -> tuple[np.ndarray, RoiReport]:
    """Class probabilities (2, z, y, x) as :func:`predict_volume`, from the coarse-to-fine window (module doc).
    ``fine``: step 3's choice (:func:`plan_fine`; ``exact`` is ``--roi auto``, ``auto`` is ``--roi fast``)."""
    device = torch.device(device)
    shape = tuple(int(s) for s in image.shape)
    margin = margin if margin is not None else [p // 4 for p in patch]
    flips: list[tuple[int, ...]] = [()]
    if tta:
        flips += [c for r in (1, 2, 3) for c in itertools.combinations((2, 3, 4), r)]
    rep = RoiReport(tiles_full_window=window_tiles(shape, patch, overlap) * len(flips))
    coarse = None
    if coarse_zoom != 1.0:
        counter = [0]
        coarse = coarse_probability(method, image, patch, 0.0, coarse_zoom, device, amp, sw_batch_size, counter)
        rep.tiles_coarse = counter[0]
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None].to(device)
    layout = inference_layout(device)
    was_training = method.training
    method.eval()
    with autocast(amp, device), memory_layout(method, layout), method.volume(x):
        wins = [TileWindow(method, x.flip(f) if f else x, patch, overlap, layout, sw_batch_size) for f in flips]
        if coarse is None:
            cover = wins[0].cover()
            rep.tiles_coarse = wins[0].add(cover)
            coarse = wins[0].prob()[1].float().cpu().numpy()
        boxes = regions(coarse > threshold, margin)
        if not boxes:
            rep.fallback = f"coarse pass found no foreground (max probability {coarse.max():.3f} <= {threshold})"
        while boxes and not rep.fallback:
            prob, trusted, rep.crop, tiles, uncertain = fine_pass(wins, flips, x, boxes, overlap, sw_batch_size,
                                                                  fine, max_uncertain)
            rep.tiles_fine += tiles
            if uncertain is not None:
                rep.uncertain = uncertain if rep.uncertain is None else max(rep.uncertain, uncertain)
                if uncertain > max_uncertain:
                    fine = "exact"  # the model is unsure here: stay on the full window's grid
            outside = (prob[1] > threshold) & ~trusted
            if not outside.any():
                break
            if rep.widened >= max_widen:
                rep.fallback = f"foreground still outside the regions after {rep.widened} widening(s)"
                break
            rep.widened += 1
            boxes = boxes + regions(outside, [max(m, p // 4, 1) for m, p in zip(margin, patch, strict=True)])
            log.info("roi: foreground outside the regions; %d region(s) now", len(boxes))
        if rep.fallback:
            log.warning("roi: %s; falling back to the full sliding window", rep.fallback)
            rep.tiles_fine += sum(w.add(w.all()) for w in wins)
            prob = _average(wins, flips)
    method.train(was_training)
    rep.boxes = boxes
    log.info("roi: %d coarse + %d fine tiles (full window: %d), regions %s", rep.tiles_coarse, rep.tiles_fine,
             rep.tiles_full_window, boxes)
    return prob, rep


def plan_fine(wins: list[TileWindow], flips: list[tuple[int, ...]], boxes: list[Box], overlap: float,
              fine: str = "auto") -> tuple[list[list[int]] | None, Box, int]:
    """Step 3's choice (``fine``: ``auto`` the cheaper, or ``exact`` / ``crop`` to measure one): (the full-window
    tiles touching ``boxes`` for each window, or None for the crop pass; the crop; the new tiles it evaluates)."""
    shape, patch = wins[0].shape, wins[0].patch
    touching = [w.touching(_mirror(boxes, f, shape)) for w, f in zip(wins, flips, strict=True)]
    crop = _crop_box(boxes, patch, shape)
    exact = sum(len(set(t) - w.done) for t, w in zip(touching, wins, strict=True))
    cropped = window_tiles([hi - lo for lo, hi in crop], patch, overlap) * len(wins)
    use_exact = exact <= cropped if fine == "auto" else fine == "exact"
    return (touching, crop, exact) if use_exact else (None, crop, cropped)


def fine_pass(wins: list[TileWindow], flips: list[tuple[int, ...]], x: torch.Tensor, boxes: list[Box],
              overlap: float, sw_batch_size: int, fine: str = "auto", max_uncertain: float = MAX_UNCERTAIN
              ) -> tuple[np.ndarray, np.ndarray, Box | None, int, float | None]:
    """Step 3 on ``boxes``: (probabilities (2, z, y, x), the voxels whose values are trusted, the crop when the
    crop pass ran and was kept (else None), tiles evaluated, the crop pass's uncertain share (None when it did not
    run)). A crop pass whose uncertain share exceeds ``max_uncertain`` is replaced by the exact pass (step 3c)."""
    shape = wins[0].shape
    touching, crop, _ = plan_fine(wins, flips, boxes, overlap, fine)
    uncertain, tiles = None, 0
    if touching is None:
        prob, tiles = _crop_pass(wins, flips, x, crop, overlap, sw_batch_size)
        uncertain = uncertain_share(prob[1][tuple(slice(lo, hi) for lo, hi in crop)])
        if uncertain <= max_uncertain:
            return prob, _inside([_shrink_inner_faces(crop, shape)], shape), crop, tiles, uncertain
        log.info("roi: %.0f%% of the crop pass's foreground is within %.1f of p = 0.5 (> %.0f%%); exact pass instead",
                 100 * uncertain, UNCERTAIN_BAND, 100 * max_uncertain)
        touching = [w.touching(_mirror(boxes, f, shape)) for w, f in zip(wins, flips, strict=True)]
    tiles += sum(w.add(t) for w, t in zip(wins, touching, strict=True))
    return _average(wins, flips), _inside(boxes, shape), None, tiles, uncertain


def uncertain_share(prob: np.ndarray, band: float = UNCERTAIN_BAND) -> float:
    """Voxels of ``prob`` with |p - 0.5| < ``band`` (where another blend of tiles could put them on the other side
    of 0.5), against the foreground voxels (p > 0.5); 0 for a volume with neither."""
    near = int((np.abs(prob - 0.5) < band).sum())
    return near / max(int((prob > 0.5).sum()), 1)


def _crop_box(boxes: list[Box], patch: list[int], shape: tuple[int, ...]) -> Box:
    """Bounding box of ``boxes``, centred up to one patch where shorter (so no tile sees padding), clipped."""
    out = []
    for axis, (p, n) in enumerate(zip(patch, shape, strict=True)):
        lo, hi = min(b[axis][0] for b in boxes), max(b[axis][1] for b in boxes)
        if hi - lo < min(p, n):
            lo = int(np.clip((lo + hi) // 2 - p // 2, 0, max(0, n - p)))
            hi = min(n, lo + p)
        out.append((lo, hi))
    return out


def _shrink_inner_faces(box: Box, shape: tuple[int, ...]) -> Box:
    """``box`` less its one-voxel faces that lie inside the image (fine foreground there may go on beyond)."""
    return [(lo + (lo > 0), hi - (hi < n)) for (lo, hi), n in zip(box, shape, strict=True)]


def _crop_pass(wins: list[TileWindow], flips: list[tuple[int, ...]], x: torch.Tensor, crop: Box, overlap: float,
               sw_batch_size: int) -> tuple[np.ndarray, int]:
    """The Gaussian window on ``crop`` with its own grid (every tile inside the crop), the full-window tiles already
    evaluated in ``wins`` blended in; background outside the crop. Returns (2, z, y, x) and the tiles evaluated."""
    shape = tuple(int(s) for s in x.shape[2:])
    total, tiles = None, 0
    for w, f in zip(wins, flips, strict=True):
        box = _mirror([crop], f, shape)[0]
        sl = tuple(slice(lo, hi) for lo, hi in box)
        cw = TileWindow(w.method, (x.flip(f) if f else x)[(slice(None), slice(None), *sl)], w.patch, overlap,
                        w.layout, sw_batch_size)
        tiles += cw.add(cw.all())
        assert cw.num is not None
        inner = (slice(None), slice(None), *(slice(lo + o, hi + o) for (lo, hi), o in zip(box, w.pad_lo,
                                                                                          strict=True)))
        own = (slice(None), slice(None), *(slice(o, o + n) for o, n in zip(cw.pad_lo, cw.shape, strict=True)))
        num, den = cw.num[own], cw.den[own]
        if w.num is not None:  # the full window's tiles evaluated so far: more views
            num, den = num + w.num[inner], den + w.den[inner]
        p = torch.zeros((num.shape[1], *shape), device=x.device)
        p[0] = 1.0
        p[(slice(None), *sl)] = (num / den)[0]
        p = p.flip([d - 1 for d in f]) if f else p
        total = p if total is None else total + p
    assert total is not None
    return (total / len(flips)).float().cpu().numpy(), tiles


def _average(wins: list[TileWindow], flips: list[tuple[int, ...]]) -> np.ndarray:
    """Mean over the mirrorings of each window's blend, flipped back; (2, z, y, x) float32."""
    total = None
    for w, f in zip(wins, flips, strict=True):
        p = w.prob()
        p = p.flip([d - 1 for d in f]) if f else p  # (C, z, y, x): tensor dim d of (1, C, ...) is d - 1 here
        total = p if total is None else total + p
    assert total is not None
    return (total / len(flips)).float().cpu().numpy()


def coarse_probability(method: Method, image: np.ndarray, patch: list[int], overlap: float, zoom: float,
                       device: str | torch.device, amp: str, sw_batch_size: int, counter: list[int]) -> np.ndarray:
    """Foreground probability (z, y, x) of a constant-blend window at ``overlap`` on the image shrunk ``zoom``
    times (trilinear), resized back."""
    if zoom == 1.0:
        return predict_volume(method, image, patch, overlap, False, device, amp, sw_batch_size, counter,
                              mode="constant")[1]
    small = F.interpolate(torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None],
                          scale_factor=1.0 / zoom, mode="trilinear", align_corners=False)[0, 0].numpy()
    prob = predict_volume(method, small, patch, overlap, False, device, amp, sw_batch_size, counter,
                          mode="constant")[1]
    return F.interpolate(torch.from_numpy(prob)[None, None], size=image.shape, mode="trilinear",
                         align_corners=False)[0, 0].numpy()
