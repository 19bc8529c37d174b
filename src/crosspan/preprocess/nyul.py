"""Nyul histogram standardization (Nyul, Udupa & Zhang, "New variants of a method of MRI scale
standardization", IEEE TMI 2000), as a preprocessing option.

``learn_landmarks`` maps each source image's landmarks (percentiles 1 and 99 plus the deciles 10..90 of its
foreground intensities) linearly so that p1 -> ``s_min`` and p99 -> ``s_max``, and averages them into a standard
scale. ``apply_landmarks`` maps an image piecewise-linearly from its own landmarks onto the standard scale,
extending the first and last segments linearly beyond p1/p99. The foreground defaults to voxels above the image
mean (the usual choice); pass a mask to override.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crosspan.core.errors import CrosspanError

PERCENTILES: tuple[float, ...] = (1.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 99.0)


@dataclass
class NyulLandmarks:
    """A learned standard scale: ``landmarks`` at ``percentiles``."""

    landmarks: np.ndarray
    percentiles: tuple[float, ...] = PERCENTILES
    s_min: float = 0.0
    s_max: float = 100.0
    n_images: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"method": "nyul", "landmarks": [float(v) for v in self.landmarks],
                "percentiles": list(self.percentiles), "s_min": self.s_min, "s_max": self.s_max,
                "n_images": self.n_images}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NyulLandmarks:
        return cls(np.asarray(d["landmarks"], dtype=np.float64), tuple(d["percentiles"]), float(d["s_min"]),
                   float(d["s_max"]), int(d.get("n_images", 0)))

    def save(self, path: str | Path) -> None:
        from crosspan.core.atomic import write_json

        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> NyulLandmarks:
        import json

        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, ValueError, KeyError) as e:
            raise CrosspanError(path, f"not a Nyul landmark file ({e})", "learn it again with learn_landmarks") from e


def image_landmarks(image: np.ndarray, mask: np.ndarray | None = None,
                    percentiles: tuple[float, ...] = PERCENTILES, path: str | None = None) -> np.ndarray:
    """Intensity percentiles of the foreground (``mask``, or voxels above the mean) of one image."""
    img = np.asarray(image, dtype=np.float64)
    fg = img[mask > 0] if mask is not None else img[img > img.mean()]
    if fg.size < 2 or not np.isfinite(fg).all():
        raise CrosspanError(path, "image has no usable foreground for histogram standardization",
                            "check the image is not constant or NaN, or pass a foreground mask")
    lm = np.percentile(fg, percentiles)
    if lm[-1] - lm[0] <= 0:
        raise CrosspanError(path, "image foreground has constant intensity", "exclude this image or fix it")
    return lm


def learn_landmarks(images: Iterable[np.ndarray], masks: Iterable[np.ndarray | None] | None = None,
                    percentiles: tuple[float, ...] = PERCENTILES, s_min: float = 0.0,
                    s_max: float = 100.0) -> NyulLandmarks:
    """The standard scale from source images (each mapped linearly p1 -> s_min, p99 -> s_max, then averaged)."""
    imgs = list(images)
    ms = list(masks) if masks is not None else [None] * len(imgs)
    if not imgs:
        raise CrosspanError(None, "no images to learn Nyul landmarks from", "pass at least one source image")
    mapped = []
    for img, m in zip(imgs, ms, strict=True):
        lm = image_landmarks(img, m, percentiles)
        mapped.append(s_min + (lm - lm[0]) / (lm[-1] - lm[0]) * (s_max - s_min))
    return NyulLandmarks(np.mean(mapped, axis=0), tuple(percentiles), s_min, s_max, len(imgs))


def apply_landmarks(image: np.ndarray, standard: NyulLandmarks, mask: np.ndarray | None = None) -> np.ndarray:
    """Piecewise-linear map of ``image`` from its landmarks to the standard scale (float32), linear beyond ends."""
    img = np.asarray(image, dtype=np.float64)
    lm = image_landmarks(img, mask, standard.percentiles)
    std = standard.landmarks
    out = np.interp(img, lm, std)
    lo, hi = img < lm[0], img > lm[-1]
    out[lo] = std[0] + (img[lo] - lm[0]) * (std[1] - std[0]) / max(lm[1] - lm[0], 1e-12)
    out[hi] = std[-1] + (img[hi] - lm[-1]) * (std[-1] - std[-2]) / max(lm[-1] - lm[-2], 1e-12)
    return out.astype(np.float32)
