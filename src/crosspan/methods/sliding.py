"""Sliding-window prediction (MONAI ``sliding_window_inference``, Gaussian blending) with optional mirror TTA.

A method's whole-volume prediction, shared by validation during training and by inference (so it sits with the
methods, below both).

Memory layout: training runs channels-last (oneDNN's fast backward path, and tensor cores on a GPU), but at
inference on a CPU the per-layer layout conversions of channels-last cost ~25 % of a volume's time for the
``nnunet`` preset (``benchmarks/speed/engine_vs_nnunet_train_predict.py --ops sw --profile``), so a CPU predicts
in the contiguous layout and a GPU keeps channels-last. The method's layout is restored afterwards (validation
during training calls this with the training network). Two tiles a forward: one at a time was ~6 % faster for
``nnunet`` but twice as slow for ``tiny``, whose per-call overhead dominates
(``benchmarks/speed/sliding_window_probe.py``).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator

import numpy as np
import torch
from monai.inferers import sliding_window_inference

from crosspan.core.amp import autocast
from crosspan.methods.base import Method


def inference_layout(device: torch.device) -> torch.memory_format:
    """Channels-last on a GPU, contiguous on a CPU (see the module docstring)."""
    return torch.channels_last_3d if device.type == "cuda" else torch.contiguous_format


@contextlib.contextmanager
def memory_layout(module: torch.nn.Module, layout: torch.memory_format) -> Iterator[None]:
    """Convert ``module``'s 5-D parameters to ``layout`` for the block, then back to their former layout."""
    was_cl = any(p.dim() == 5 and p.is_contiguous(memory_format=torch.channels_last_3d) and not p.is_contiguous()
                 for p in module.parameters())
    before = torch.channels_last_3d if was_cl else torch.contiguous_format
    if layout != before:
        module.to(memory_format=layout)
    try:
        yield
    finally:
        if layout != before:
            module.to(memory_format=before)


@torch.no_grad()
def predict_volume(method: Method, image: np.ndarray, patch: list[int], overlap: float = 0.5, tta: bool = False,
                   device: str | torch.device = "cpu", amp: str = "none", sw_batch_size: int = 2,
                   tiles: list[int] | None = None, mode: str = "gaussian") -> np.ndarray:
    """Class probabilities (2, z, y, x) float32 for a preprocessed (z, y, x) image, or a (C, z, y, x) one whose
    channels after the first are extra inputs (prompt channels); ``tiles[0]`` (when given) is increased by the
    number of tiles the network evaluated."""
    device = torch.device(device)
    arr = torch.from_numpy(np.array(image, dtype=np.float32))
    x = (arr[None] if arr.ndim == 4 else arr[None, None]).to(device)
    ctx = autocast(amp, device)
    flips: list[tuple[int, ...]] = [()]
    if tta:
        flips += [c for r in (1, 2, 3) for c in itertools.combinations((2, 3, 4), r)]
    layout = inference_layout(device)
    was_training = method.training
    method.eval()
    total = None
    with ctx, memory_layout(method, layout), method.volume(x):  # per-volume decisions (Dual-Norm)
        for f in flips:
            xi = x.flip(f) if f else x
            out = sliding_window_inference(xi, tuple(patch), sw_batch_size, lambda t: _counted(method.predict(
                t.contiguous(memory_format=layout)).float(), tiles), overlap=overlap, mode=mode)
            assert isinstance(out, torch.Tensor)  # a tensor predictor gives a tensor (MONAI's union covers dicts)
            p = out.flip(f) if f else out
            total = p if total is None else total + p
    method.train(was_training)
    assert total is not None
    return (total / len(flips))[0].float().cpu().numpy()


def _counted(out: torch.Tensor, tiles: list[int] | None) -> torch.Tensor:
    if tiles is not None:
        tiles[0] += int(out.shape[0])
    return out
