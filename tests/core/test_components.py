"""Connected components: the largest kept (26-connectivity), and post-processing built on it."""

from __future__ import annotations

import numpy as np

from crosspan.core.components import components, largest_component
from crosspan.inference.postprocess import postprocess


def _two_blobs() -> np.ndarray:
    m = np.zeros((10, 10, 10), bool)
    m[1:4, 1:4, 1:4] = True  # 27 voxels
    m[6:8, 6:8, 6:8] = True  # 8 voxels
    m[5, 5, 5] = True  # touches the second blob by a corner only: 26-connected, one component of 9
    return m


def test_largest_component_and_sizes() -> None:
    lab, sizes = components(_two_blobs())
    assert sorted(sizes.tolist()) == [9, 27]
    big = largest_component(_two_blobs())
    assert big.dtype == np.uint8 and big.sum() == 27 and big[2, 2, 2] == 1 and big[5, 5, 5] == 0
    assert largest_component(np.zeros((3, 3, 3), bool)).sum() == 0


def test_postprocess_modes_keep_their_rules() -> None:
    m = _two_blobs()
    assert np.array_equal(postprocess(m, "lcc", 1.0), largest_component(m))
    assert postprocess(m, "min-volume", 0.001, 0.009).sum() == 36  # 9 voxels x 1 ul = 0.009 ml: kept
    assert postprocess(m, "min-volume", 0.001, 0.01).sum() == 27
    assert postprocess(m, "none", 1.0).sum() == 36
