"""The one Dice: the value on overlapping masks, and each caller's empty-mask rule."""

from __future__ import annotations

import numpy as np
import pytest

from crosspan.core.dice import dice, dice_from_counts
from crosspan.evaluation.metrics import compute_metrics


def test_dice_of_overlapping_masks() -> None:
    a, b = np.zeros((4, 4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8)
    a[:2], b[1:3] = 1, 2  # 32 voxels each, 16 shared; any non-zero value is foreground
    assert dice(a, b, empty=1.0) == pytest.approx(0.5)
    assert dice_from_counts(16, 32, 32, empty=0.0) == pytest.approx(0.5)


@pytest.mark.parametrize("empty", [0.0, 1.0])
def test_both_empty_gives_the_callers_value_one_empty_gives_zero(empty: float) -> None:
    none, some = np.zeros((3, 3, 3), bool), np.ones((3, 3, 3), bool)
    assert dice(none, none, empty=empty) == empty
    assert dice(none, some, empty=empty) == 0.0


def test_evaluation_dice_is_the_same_number() -> None:
    gen = np.random.default_rng(0)
    pred, gt = gen.random((12, 12, 12)) > 0.6, gen.random((12, 12, 12)) > 0.5
    assert compute_metrics(pred, gt, (1.0, 1.0, 1.0))["dice"] == pytest.approx(dice(pred, gt, empty=1.0))
    none = np.zeros_like(pred)
    assert compute_metrics(none, none, (1.0, 1.0, 1.0))["dice"] == 1.0
