"""Prompt geometry of the zero-shot foundation models: per-slice boxes, jitter, key slice, propagation order."""

from __future__ import annotations

import numpy as np
import pytest

from crosspan.methods.foundation.prompts import (
    box_3d,
    is_oracle,
    jittered_boxes,
    key_slice,
    propagation_order,
    slice_boxes,
)


def _cone() -> np.ndarray:
    """Squares growing then shrinking along z (largest on slice 6), with an empty slice 4 inside the extent."""
    m = np.zeros((12, 40, 40), dtype=bool)
    for z, r in zip(range(2, 10), [2, 4, 6, 8, 9, 10, 7, 3], strict=True):
        m[z, 20 - r:20 + r, 15 - r // 2:15 + r] = True
    m[4] = False
    return m


def test_box_3d_and_slice_boxes_are_tight_and_fill_gaps() -> None:
    m = _cone()
    assert box_3d(m) == (2, 10, 10, 10, 30, 25)
    assert box_3d(np.zeros((3, 3, 3), bool)) is None
    boxes = slice_boxes(m)
    assert sorted(boxes) == list(range(2, 10))
    assert boxes[2] == (18, 14, 22, 17)  # r=2: rows 18..21, cols 14..16
    assert boxes[7] == (10, 10, 30, 25)
    assert boxes[4] == boxes[3]  # gap slice: the nearest real box (lower on a tie)
    for z, (y0, x0, y1, x1) in boxes.items():
        if m[z].any():
            ys, xs = np.nonzero(m[z])
            assert (y0, x0, y1, x1) == (ys.min(), xs.min(), ys.max() + 1, xs.max() + 1)


def test_key_slice_is_largest_box_and_propagation_covers_extent_once_per_direction() -> None:
    boxes = slice_boxes(_cone())
    assert key_slice(boxes) == 7  # r=10: the largest box
    fwd, bwd = propagation_order(7, 2, 10)
    assert fwd == [7, 8, 9]
    assert bwd == [7, 6, 5, 4, 3, 2]
    assert sorted(set(fwd) | set(bwd)) == list(range(2, 10))
    with pytest.raises(ValueError):
        key_slice({})


def test_key_slice_tie_prefers_middle() -> None:
    boxes = {0: (0, 0, 4, 4), 5: (0, 0, 4, 4), 10: (0, 0, 4, 4)}
    assert key_slice(boxes) == 5


def test_jitter_is_seeded_bounded_and_moves_boxes() -> None:
    m = _cone()
    a = jittered_boxes(m, 0.2, np.random.default_rng(1))
    b = jittered_boxes(m, 0.2, np.random.default_rng(1))
    c = jittered_boxes(m, 0.2, np.random.default_rng(2))
    assert a == b and a != c
    assert jittered_boxes(m, 0.0, np.random.default_rng(1)) == slice_boxes(m)
    truth = slice_boxes(m)
    for z, (y0, x0, y1, x1) in a.items():
        assert 0 <= y0 < y1 <= 40 and 0 <= x0 < x1 <= 40
        if z in truth and m[z].any():  # shift + scale of at most 20 % of the 3D box (20 x 15) plus rounding
            assert abs(y0 - truth[z][0]) <= 0.2 * 20 + 0.2 * (truth[z][2] - truth[z][0]) + 1
    zs = sorted(a)
    assert abs(zs[0] - 2) <= 0.4 * 8 + 1 and abs(zs[-1] + 1 - 10) <= 0.4 * 8 + 1
    moved = sum(a[z] != truth[z] for z in a if z in truth)
    assert moved >= len(a) // 2


def test_oracle_flag_by_prompt_source() -> None:
    assert is_oracle("oracle-box") and is_oracle("jittered-box")
    assert not is_oracle("model-box")
