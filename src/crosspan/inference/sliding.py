"""Sliding-window prediction (MONAI ``sliding_window_inference``, Gaussian blending) with optional mirror TTA."""

from __future__ import annotations

import contextlib
import itertools

import numpy as np
import torch
from monai.inferers import sliding_window_inference

from crosspan.methods.base import Method
from crosspan.methods.common import AMP_DTYPES


@torch.no_grad()
def predict_volume(method: Method, image: np.ndarray, patch: list[int], overlap: float = 0.5, tta: bool = False,
                   device: str | torch.device = "cpu", amp: str = "none", sw_batch_size: int = 2) -> np.ndarray:
    """Class probabilities (2, z, y, x) float32 for a preprocessed (z, y, x) image."""
    device = torch.device(device)
    x = torch.from_numpy(np.array(image, dtype=np.float32))[None, None].to(device)
    ctx = (torch.autocast(device.type, dtype=AMP_DTYPES[amp]) if amp in AMP_DTYPES else contextlib.nullcontext())
    flips: list[tuple[int, ...]] = [()]
    if tta:
        flips += [c for r in (1, 2, 3) for c in itertools.combinations((2, 3, 4), r)]
    was_training = method.training
    method.eval()
    total = None
    with ctx:
        for f in flips:
            xi = x.flip(f) if f else x
            p = sliding_window_inference(xi, tuple(patch), sw_batch_size, lambda t: method.predict(
                t.contiguous(memory_format=torch.channels_last_3d)).float(),
                                         overlap=overlap, mode="gaussian")
            p = p.flip(f) if f else p
            total = p if total is None else total + p
    method.train(was_training)
    assert total is not None
    return (total / len(flips))[0].float().cpu().numpy()


def dice(pred: np.ndarray, ref: np.ndarray) -> float:
    """Binary Dice; both empty -> 1."""
    p, r = pred > 0, ref > 0
    s = int(p.sum()) + int(r.sum())
    return 1.0 if s == 0 else 2.0 * int((p & r).sum()) / s
