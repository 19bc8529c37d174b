"""Reading an annotator's mask: the image checks of :func:`crosspan.data.io.read_image` plus binary values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from crosspan.core.errors import CrosspanError
from crosspan.data.inspect import label_values_text
from crosspan.data.io import read_image

MASK_FIX = "export the mask as 0 (background) / 1 (pancreas): threshold a soft mask, set other label values to 0 or 1"


def read_mask(path: str | Path, like: tuple[Path, tuple[int, ...]] | None = None) -> tuple[np.ndarray, Any]:
    """A binary mask (bool) and its geometry; values outside {0, 1} (a soft or multi-label map), or a shape that
    differs from ``like`` (another mask's path and shape), are a :class:`CrosspanError` naming the file."""
    arr, props = read_image(path)
    values = np.unique(arr)
    if any(v not in (0, 1) for v in values):
        raise CrosspanError(path, f"mask values outside {{0,1}}: {label_values_text(values)}", MASK_FIX)
    if like is not None and arr.shape != like[1]:
        raise CrosspanError(path, f"mask shape {arr.shape} differs from {like[0]} {like[1]}",
                            "all annotators must draw on the same image grid")
    return arr > 0, props
