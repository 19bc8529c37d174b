"""Centers (scanner + protocol presets), the shift dial (overrides) and scan geometry.

Presets live in the packaged ``centers.yaml``; a user YAML file with the same structure replaces or adds
centers. Overrides (``T1.TE=2.0``, ``scanner.snr=20``, ``B.T2.TR=1800``) change one knob for every center (or
the named one) while the patients stay the same (PHYSICS.md section 6).
"""

from __future__ import annotations

import copy
import re
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from crosspan.core.errors import CrosspanError

SIZES = ("default", "small")
SMALL_INPLANE = 96  # voxels across the x field of view at size "small"
CENTER_NAME = re.compile(r"^[A-Za-z0-9]+$")


def load_centers(path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The packaged presets, updated with the centers of the YAML file ``path`` (if given)."""
    text = resources.files("crosspan.synth").joinpath("centers.yaml").read_text()
    centers = yaml.safe_load(text)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise CrosspanError(path, "centers file does not exist", "give a YAML file of center presets")
        try:
            user = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise CrosspanError(path, f"invalid YAML ({exc.__class__.__name__})", "fix the YAML syntax") from exc
        if not isinstance(user, dict):
            raise CrosspanError(path, "expected a mapping of center name -> preset", "see docs/synth.md")
        for name, preset in user.items():
            base = copy.deepcopy(centers.get(str(preset.get("base", name)), centers["A"]))
            _deep_update(base, {k: v for k, v in preset.items() if k != "base"})
            centers[str(name)] = base
    for name in centers:
        if not CENTER_NAME.match(str(name)):
            raise CrosspanError(path, f"center name '{name}' is not alphanumeric",
                                "use short names without underscores, e.g. A or SIEMENS15")
    return centers


def _deep_update(dst: dict[str, Any], src: dict[str, Any]) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _deep_update(dst[k], v)
        else:
            dst[k] = v


def parse_overrides(items: list[str], path: str | Path | None = None) -> dict[str, Any]:
    """``["T1.TE=2.0", "scanner.snr=20"]`` (+ a flat or nested YAML file) -> {dotted key: value}."""
    out: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise CrosspanError(path, "overrides file does not exist", "give a YAML file of key: value pairs")
        data = yaml.safe_load(path.read_text()) or {}
        out.update(_flatten(data))
    for item in items:
        if "=" not in item:
            raise CrosspanError(None, f"override '{item}' lacks '='", "write KEY=VALUE, e.g. T1.TE=2.0")
        key, value = item.split("=", 1)
        out[key.strip()] = yaml.safe_load(value)
    return out


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def apply_overrides(centers: dict[str, dict[str, Any]], overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A copy of ``centers`` with each override applied: ``scanner.KEY``, ``SEQ.KEY`` or ``CENTER.<either>``."""
    centers = copy.deepcopy(centers)
    for key, value in overrides.items():
        parts = key.split(".")
        targets = list(centers)
        if len(parts) == 3 and parts[0] in centers:
            targets, parts = [parts[0]], parts[1:]
        if len(parts) != 2:
            raise CrosspanError(None, f"override key '{key}' not understood",
                                "use scanner.KEY, SEQUENCE.KEY or CENTER.SEQUENCE.KEY")
        scope, name = parts
        for c in targets:
            if scope == "scanner":
                centers[c][name] = value
            elif scope in centers[c]["sequences"]:
                centers[c]["sequences"][scope][name] = value
            else:
                raise CrosspanError(None, f"override '{key}': center {c} has no sequence '{scope}'",
                                    f"use one of scanner, {', '.join(centers[c]['sequences'])}")
    return centers


def scan_geometry(center: dict[str, Any], sequence: str, size: str = "default") -> dict[str, Any]:
    """Shape, spacing (z, y, x mm), origin and acquired matrix of one series."""
    if size not in SIZES:
        raise CrosspanError(None, f"unknown size '{size}'", f"use one of {', '.join(SIZES)}")
    seq = center["sequences"][sequence]
    fov = np.asarray(center["fov"], dtype=float)
    sp = np.asarray(seq["spacing"], dtype=float)
    matrix = np.asarray(seq.get("matrix", [0, 0]), dtype=float)
    if size == "small":
        inplane = fov[2] / SMALL_INPLANE
        scale = inplane / sp[1:]
        sp = np.array([max(sp[0], fov[0] / 48.0), inplane, inplane])
        matrix = matrix / scale
    shape = np.maximum(np.round(fov / sp).astype(int), 8)
    shape[1:] += shape[1:] % 2  # even in-plane sizes keep k-space symmetric
    recon = shape[1:]
    matrix = np.where(matrix > 0, np.minimum(np.round(matrix), recon), recon).astype(int)
    origin = -(shape - 1) * sp / 2.0
    return {"shape": tuple(int(v) for v in shape), "spacing": tuple(float(v) for v in sp),
            "origin": tuple(float(v) for v in origin), "matrix": tuple(int(v) for v in matrix)}


def noise_sigma(liver_signal_15t: float, snr: float) -> float:
    """Noise standard deviation (per real/imaginary channel) giving liver SNR ``snr`` at 1.5 T signal level."""
    return float(liver_signal_15t) / max(float(snr), 1e-6)


def field_gain(field: float) -> float:
    """Signal-to-noise scaling of B0 relative to 1.5 T (ultimate intrinsic SNR ~ B0^0.97 in the torso, Wang 2025)."""
    return (field / 1.5) ** 0.97


def smooth_poly(shape: tuple[int, int, int], coeffs: np.ndarray) -> np.ndarray:
    """Second-order polynomial in normalised (z, y, x) coordinates ([-1, 1] per axis); ``coeffs`` has 10 entries
    (a spherical-harmonics-like smooth field of order <= 2)."""
    z, y, x = (np.linspace(-1, 1, n, dtype=np.float32) for n in shape)
    z, y, x = z[:, None, None], y[None, :, None], x[None, None, :]
    c = np.asarray(coeffs, dtype=np.float32)
    return (c[0] * x + c[1] * y + c[2] * z + c[3] * x * x + c[4] * y * y + c[5] * z * z + c[6] * x * y
            + c[7] * y * z + c[8] * x * z + c[9])


def smooth_field(shape: tuple[int, int, int], coeffs: np.ndarray) -> np.ndarray:
    """exp of :func:`smooth_poly`: a positive multiplicative bias field (TorchIO RandomBiasField-like)."""
    return np.exp(smooth_poly(shape, coeffs)).astype(np.float32)
