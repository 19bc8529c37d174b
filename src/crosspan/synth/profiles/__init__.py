"""Cohort profiles: a family of center presets plus anatomy settings, chosen by ``crosspan synth cohort --profile``.

``default`` is the packaged ``centers.yaml`` with the anatomy of :func:`crosspan.synth.anatomy.sample_anatomy`
unchanged. ``stress`` (``profiles/stress.yaml``) is the test-only suite of issue #17: centers outside the default
presets on every acquisition axis (field, spacing, slice thickness, fat saturation, TE, bias, B1, k-space
truncation, intensity scale, voxel type, array orientation) and anatomies outside the default ranges (body size,
subcutaneous fat, organ proportions, pancreas size). Methods are never trained or tuned on it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import yaml

from crosspan.core.errors import CrosspanError
from crosspan.data.io import ImageProperties

PROFILES = ("default", "stress")
DTYPES = {"float32": np.float32, "int16": np.int16, "uint16": np.uint16}
AFFINES = ("LPS", "RAS")
ANATOMY_KEYS = ("body_scale", "subcut", "organ_scale", "pancreas_scale")
ORGANS = ("liver", "spleen", "kidney_l", "kidney_r", "stomach")  # anatomy entries whose items 3-5 are semi-axes


@dataclass
class Profile:
    name: str
    centers: dict[str, dict[str, Any]]
    anatomy: dict[str, list[float]] = field(default_factory=dict)


def load_profile(name: str) -> Profile:
    """The packaged profile ``name`` (``default`` or ``stress``), validated."""
    if name not in PROFILES:
        raise CrosspanError(None, f"unknown profile '{name}'", f"use one of {', '.join(PROFILES)}")
    if name == "default":
        from crosspan.synth.scanner import load_centers

        return Profile("default", load_centers())
    data = yaml.safe_load(resources.files("crosspan.synth.profiles").joinpath(f"{name}.yaml").read_text())
    anatomy = {str(k): [float(v) for v in r] for k, r in (data.get("anatomy") or {}).items()}
    for key, rng_ in anatomy.items():
        if key not in ANATOMY_KEYS or len(rng_) != 2 or not 0 < rng_[0] <= rng_[1]:
            raise CrosspanError(None, f"profile {name}: bad anatomy setting {key}={rng_}",
                                f"use [lo, hi] with 0 < lo <= hi for one of {', '.join(ANATOMY_KEYS)}")
    centers = copy.deepcopy(data["centers"])
    for c, preset in centers.items():
        if str(preset.get("dtype", "float32")) not in DTYPES or str(preset.get("affine", "LPS")) not in AFFINES:
            raise CrosspanError(None, f"profile {name}, center {c}: dtype/affine not understood",
                                f"dtype one of {', '.join(DTYPES)}; affine one of {', '.join(AFFINES)}")
    return Profile(name, centers, anatomy)


def vary_anatomy(anatomy: dict[str, Any], settings: dict[str, list[float]], rng: np.random.Generator) -> dict[str, Any]:
    """A copy of ``anatomy`` with the profile's ranges applied (a separate ``rng``, so the default draws, and so
    the default cohort, are unchanged). ``body_scale`` is read by :func:`crosspan.synth.anatomy.rasterize`."""
    if not settings:
        return anatomy
    a = copy.deepcopy(anatomy)

    def u(key: str) -> float:
        lo, hi = settings[key]
        return float(rng.uniform(lo, hi))

    if "body_scale" in settings:
        a["body_scale"] = u("body_scale")
    if "subcut" in settings:
        a["subcut"] = u("subcut")
    if "organ_scale" in settings:
        for organ in ORGANS:
            f = u("organ_scale")
            a[organ] = [v * f if 3 <= i < 6 else v for i, v in enumerate(a[organ])]
    if "pancreas_scale" in settings:
        a["pancreas_scale"] = u("pancreas_scale") * (1.0 - 0.003 * max(a["age"] - 60.0, 0.0))
    return a


def store(image: np.ndarray, label: np.ndarray, tissue: np.ndarray, props: ImageProperties,
          center: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, ImageProperties]:
    """The arrays and geometry as the center's scanner stores them: voxel type ``dtype`` (rounded and clipped for
    integers) and ``affine`` RAS (array x and y axes reversed, direction and origin changed to match, so every
    voxel keeps its patient-space position)."""
    dtype = DTYPES[str(center.get("dtype", "float32"))]
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(np.dtype(dtype).name)
        image = np.clip(np.rint(image), info.min, info.max)
    image = image.astype(dtype)
    if str(center.get("affine", "LPS")) == "RAS":
        image, label, tissue = (np.ascontiguousarray(a[:, ::-1, ::-1]) for a in (image, label, tissue))
        d = np.asarray(props.direction, dtype=float).reshape(3, 3)
        origin = np.asarray(props.origin, dtype=float)
        for axis in (1, 2):
            origin = origin + d[axis] * props.spacing[axis] * (props.shape[axis] - 1)
            d[axis] = -d[axis]
        props = ImageProperties(props.shape, props.spacing, tuple(float(v) for v in origin),
                                tuple(float(v) for v in d.ravel()))
    return image, label, tissue, props
