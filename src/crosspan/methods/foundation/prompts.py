"""Box prompts for zero-shot foundation models, as pure functions on (z, y, x) numpy masks.

A 2D box is ``(y0, x0, y1, x1)`` in voxel indices with exclusive ends (a numpy slice ``[y0:y1, x0:x1]``); a 3D box
adds ``z0, z1`` in front. Prompt sources (REFERENCE.md section 5): ``oracle-box`` (ground truth, labelled oracle),
``jittered-box`` (the oracle box shifted and scaled by a fraction, seeded; still oracle-derived) and
``model-box`` (from a trained model's predicted mask; fully automatic).
"""

from __future__ import annotations

import numpy as np

PROMPTS = ("oracle-box", "jittered-box", "model-box")
ORACLE_PROMPTS = ("oracle-box", "jittered-box")

Box2D = tuple[int, int, int, int]
Box3D = tuple[int, int, int, int, int, int]


def is_oracle(prompt: str) -> bool:
    """True when the prompt is derived from the ground truth (results must carry ``oracle=True``)."""
    return prompt in ORACLE_PROMPTS


def box_3d(mask: np.ndarray) -> Box3D | None:
    """Tight 3D box ``(z0, y0, x0, z1, y1, x1)`` of a mask; ``None`` when it is empty."""
    idx = np.nonzero(mask)
    if not idx[0].size:
        return None
    lo = [int(i.min()) for i in idx]
    hi = [int(i.max()) + 1 for i in idx]
    return (lo[0], lo[1], lo[2], hi[0], hi[1], hi[2])


def slice_boxes(mask: np.ndarray, box: Box3D | None = None) -> dict[int, Box2D]:
    """One 2D box per slice over the z-extent of ``box`` (default: the mask's own 3D box).

    A slice with foreground gets its own tight box; a slice of the extent without foreground (a gap in the mask)
    gets the box of the nearest slice that has one (the lower on a tie), so every slice of the extent is prompted
    and a gap never gets a box larger than a real one."""
    box = box if box is not None else box_3d(mask)
    if box is None:
        return {}
    tight: dict[int, Box2D] = {}
    for z in np.nonzero(mask.reshape(mask.shape[0], -1).any(axis=1))[0]:
        if (b := box_3d(mask[z][None])) is not None:  # z has foreground, so always
            tight[int(z)] = (b[1], b[2], b[4], b[5])
    if not tight:
        return {}
    zs = np.array(sorted(tight))
    return {z: tight[int(zs[np.argmin(np.abs(zs - z))])] for z in range(max(box[0], 0), min(box[3], mask.shape[0]))}


def clip_box(box: Box2D, shape: tuple[int, int]) -> Box2D:
    y0, x0, y1, x1 = box
    y0, x0 = min(max(y0, 0), shape[0] - 1), min(max(x0, 0), shape[1] - 1)
    return (y0, x0, max(min(y1, shape[0]), y0 + 1), max(min(x1, shape[1]), x0 + 1))


def jitter_params(jitter: float, rng: np.random.Generator) -> np.ndarray:
    """Shift (fractions of the box size) and log-scale factors for z, y, x: uniform in [-jitter, jitter]."""
    return rng.uniform(-jitter, jitter, size=(2, 3))


def _move(lo: float, hi: float, shift: float, scale: float) -> tuple[int, int]:
    size, centre = hi - lo, (hi + lo) / 2 + shift * (hi - lo)
    half = size * (1 + scale) / 2
    return int(round(centre - half)), max(int(round(centre + half)), int(round(centre - half)) + 1)


def jittered_boxes(mask: np.ndarray, jitter: float, rng: np.random.Generator) -> dict[int, Box2D]:
    """Oracle slice boxes after one seeded shift and scale of the 3D box (each axis by up to ``jitter`` of its
    size). The z-extent moves with it; every slice box moves by the same offset and scale about its own centre."""
    box = box_3d(mask)
    if box is None or jitter <= 0:
        return slice_boxes(mask)
    (sz, sy, sx), (cz, cy, cx) = jitter_params(jitter, rng)
    z0, y0, x0, z1, y1, x1 = box
    nz0, nz1 = _move(z0, z1, sz, cz)
    dy, dx = sy * (y1 - y0), sx * (x1 - x0)
    gt = slice_boxes(mask, (max(nz0, 0), y0, x0, min(nz1, mask.shape[0]), y1, x1))
    out = {}
    for z, (a0, b0, a1, b1) in gt.items():
        ya, yb = _move(a0 + dy, a1 + dy, 0.0, cy)
        xa, xb = _move(b0 + dx, b1 + dx, 0.0, cx)
        out[z] = clip_box((ya, xa, yb, xb), mask.shape[1:])
    return out


def key_slice(boxes: dict[int, Box2D]) -> int:
    """The slice whose box has the largest area (MedSAM2's key slice); ties go to the middle-most slice."""
    if not boxes:
        raise ValueError("no boxes")
    zs = sorted(boxes)
    mid = (zs[0] + zs[-1]) / 2
    return max(zs, key=lambda z: ((boxes[z][2] - boxes[z][0]) * (boxes[z][3] - boxes[z][1]), -abs(z - mid)))


def propagation_order(key: int, z0: int, z1: int) -> tuple[list[int], list[int]]:
    """MedSAM2's two passes over slices ``[z0, z1)``: forward ``key..z1-1``, then (after a reset) backward
    ``key..z0``. Both start on the prompted key slice; the union of their masks is the result."""
    return list(range(key, z1)), list(range(key, z0 - 1, -1))


__all__ = ["ORACLE_PROMPTS", "PROMPTS", "box_3d", "clip_box", "is_oracle", "jitter_params", "jittered_boxes",
           "key_slice", "propagation_order", "slice_boxes"]
