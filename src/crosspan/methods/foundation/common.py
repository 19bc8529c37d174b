"""Shared plumbing of zero-shot foundation models: the method base class and intensity windowing."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from crosspan.core.errors import CrosspanError
from crosspan.methods.base import ZeroShotModel
from crosspan.methods.foundation.prompts import PROMPTS, Box2D, is_oracle

PROMPT_HPARAMS: dict[str, Any] = {"prompt": "oracle-box", "jitter": 0.1, "box_model": "", "seed": 0}


class ZeroShotMethod(ZeroShotModel):
    """A box-prompted model run as is (no training). ``segment`` maps a (z, y, x) volume and one 2D box per
    slice to a binary mask; :mod:`crosspan.inference.zeroshot` builds the boxes from the prompt source."""

    prompted: ClassVar[bool] = True

    def __init__(self, hparams: dict[str, Any] | None = None, device: str = "cpu") -> None:
        super().__init__(hparams, device)
        if self.hparams["prompt"] not in PROMPTS:
            raise CrosspanError(None, f"unknown prompt source '{self.hparams['prompt']}'",
                                f"use --hp prompt=<{'|'.join(PROMPTS)}>")

    @classmethod
    def uses_oracle(cls, hparams: dict[str, Any]) -> bool:
        """Boxes from the ground truth (``oracle-box``, ``jittered-box``) make oracle results."""
        return is_oracle(str(hparams.get("prompt", cls.default_hparams.get("prompt", ""))))

    def segment(self, image: np.ndarray, boxes: dict[int, Box2D]) -> np.ndarray:
        raise NotImplementedError


def window(volume: np.ndarray, lower: float = 0.5, upper: float = 99.5) -> np.ndarray:
    """Clip to the volume's ``lower``-``upper`` intensity percentiles and scale to [0, 1] (MedSAM's MR
    preprocessing; percentiles over the whole volume so neighbouring slices share one window)."""
    lo, hi = np.percentile(volume, [lower, upper])
    out = (np.clip(volume.astype(np.float32), lo, hi) - lo) / max(float(hi - lo), 1e-8)
    return out.astype(np.float32)


def mask_boxes_to_slices(boxes: dict[int, Box2D]) -> tuple[int, int]:
    """``[z0, z1)`` spanned by the prompted slices."""
    zs = sorted(boxes)
    return zs[0], zs[-1] + 1


__all__ = ["PROMPT_HPARAMS", "ZeroShotMethod", "mask_boxes_to_slices", "window"]
