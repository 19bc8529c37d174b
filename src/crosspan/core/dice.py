"""Binary Dice (Dice 1945), the one implementation every stage uses.

When both masks are empty the ratio is 0/0; each caller says what that means with ``empty``: evaluation and
validation count agreement on "no pancreas" as 1 (REFERENCE.md's convention), SSL pairing counts it as 0 (two
empty transported labels are no evidence that a registration worked).
"""

from __future__ import annotations

import numpy as np


def dice_from_counts(intersection: int, pred_voxels: int, ref_voxels: int, empty: float) -> float:
    """``2 |P & R| / (|P| + |R|)``; ``empty`` when both masks are empty."""
    total = pred_voxels + ref_voxels
    return float(empty) if total == 0 else 2.0 * intersection / total


def dice(pred: np.ndarray, ref: np.ndarray, empty: float) -> float:
    """Dice of the masks ``pred > 0`` and ``ref > 0``; ``empty`` when both are empty."""
    p, r = np.asarray(pred) > 0, np.asarray(ref) > 0
    return dice_from_counts(int(np.count_nonzero(p & r)), int(np.count_nonzero(p)), int(np.count_nonzero(r)), empty)
