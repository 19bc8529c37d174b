"""Post-processing of binary masks: largest connected component, or components above a volume."""

from __future__ import annotations

import numpy as np

from crosspan.core.components import components, largest_component
from crosspan.core.errors import CrosspanError


def parse_postprocess(text: str) -> tuple[str, float]:
    """``lcc`` | ``none`` | ``min-volume:ML``."""
    if text in ("lcc", "none"):
        return text, 0.0
    if text.startswith("min-volume:"):
        try:
            return "min-volume", float(text.split(":", 1)[1])
        except ValueError:
            pass
    raise CrosspanError(None, f"bad --postprocess '{text}'", "use lcc, none or min-volume:ML (e.g. min-volume:2)")


def postprocess(mask: np.ndarray, mode: str, voxel_ml: float, min_ml: float = 0.0) -> np.ndarray:
    """Apply ``mode`` to a binary mask (26-connectivity)."""
    mask = mask.astype(bool)
    if mode == "none" or not mask.any():
        return mask.astype(np.uint8)
    if mode == "lcc":
        return largest_component(mask)
    lab, sizes = components(mask)
    keep = [i + 1 for i, s in enumerate(sizes) if s * voxel_ml >= min_ml]
    return np.isin(lab, keep).astype(np.uint8)
