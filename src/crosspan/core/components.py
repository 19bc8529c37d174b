"""Connected components of binary masks (26-connectivity, scipy ``ndimage.label``)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

STRUCTURE = np.ones((3, 3, 3), bool)


def components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The label image of ``mask``'s 26-connected components and their voxel counts (label ``i + 1`` at ``i``)."""
    lab, _ = ndimage.label(mask, structure=STRUCTURE)
    return lab, np.bincount(lab.ravel())[1:]


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 26-connected component of ``mask`` as uint8 (the lowest label on a tie; empty stays empty)."""
    mask = np.asarray(mask).astype(bool)
    if not mask.any():
        return mask.astype(np.uint8)
    lab, sizes = components(mask)
    return (lab == int(np.argmax(sizes)) + 1).astype(np.uint8)
