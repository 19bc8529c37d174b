"""MedSAM2 adapter: a randomly initialised sam2 model from its packaged config runs the 3D protocol end to end
(proves the wiring; its masks are meaningless), and a missing checkpoint is one clear error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crosspan.core.errors import CrosspanError
from crosspan.methods.foundation.medsam2 import MedSAM2, build_predictor, to_frames
from crosspan.methods.foundation.prompts import slice_boxes


def test_missing_checkpoint_is_one_clear_error(tmp_path) -> None:
    with pytest.raises(CrosspanError, match="checkpoint") as err:
        MedSAM2({"prompt": "oracle-box"})
    assert "--hp checkpoint=/path/to/MedSAM2.pt" in err.value.fix
    pytest.importorskip("sam2")
    with pytest.raises(CrosspanError, match="not found"):
        MedSAM2({"checkpoint": str(tmp_path / "missing.pt")})


def test_frames_are_imagenet_normalised_rgb() -> None:
    f = to_frames(np.stack([np.zeros((6, 8)), np.ones((6, 8))]), 16)
    assert f.shape == (2, 3, 16, 16)
    assert f[0, :, 0, 0].tolist() == pytest.approx([-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225], abs=1e-5)
    assert f[1, 0, 0, 0].item() == pytest.approx((1 - 0.485) / 0.229, abs=1e-5)


def test_random_sam2_runs_the_protocol_end_to_end() -> None:
    pytest.importorskip("sam2")
    torch.manual_seed(0)
    predictor = build_predictor("configs/sam2.1/sam2.1_hiera_t.yaml", None, image_size=128, device="cpu")
    calls: list[tuple[str, int | None, bool]] = []
    original = predictor.propagate_in_video

    def spy(state, start_frame_idx=None, max_frame_num_to_track=None, reverse=False):  # noqa: ANN001
        for idx, ids, logits in original(state, start_frame_idx, max_frame_num_to_track, reverse):
            calls.append(("frame", idx, reverse))
            yield idx, ids, logits

    predictor.propagate_in_video = spy
    method = MedSAM2({"image_size": 128}, predictor=predictor)
    gt = np.zeros((10, 24, 28), dtype=bool)
    gt[3:7, 8:16, 9:20] = True
    gt[5, 6:18, 7:22] = True  # the key slice (largest box)
    vol = np.random.default_rng(0).normal(0, 1, gt.shape) + 3 * gt
    mask = method.segment(vol, slice_boxes(gt))
    assert mask.shape == gt.shape and mask.dtype == bool
    assert not mask[:3].any() and not mask[7:].any()  # only the prompted z-extent is tracked
    fwd = [i for _, i, r in calls if not r]
    bwd = [i for _, i, r in calls if r]
    assert fwd == [2, 3] and bwd == [2, 1, 0]  # frames relative to z0=3: key slice 5 -> 2
