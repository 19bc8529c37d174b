"""One series of one patient: grid -> tissue map (with a breathing offset) -> render -> image + tissue map."""

from __future__ import annotations

from typing import Any

import numpy as np

from crosspan.synth.anatomy import rasterize
from crosspan.synth.render import block_mode, render
from crosspan.synth.scanner import noise_sigma, scan_geometry
from crosspan.synth.sequences import signal_lut
from crosspan.synth.tissues import Tissue, nominal_arrays


def fine_axes(geom: dict[str, Any], ss: tuple[int, int, int]) -> list[np.ndarray]:
    """mm coordinates of the supersampled grid: ``ss`` samples centered in each output voxel, per axis."""
    axes = []
    for n, sp, org, s in zip(geom["shape"], geom["spacing"], geom["origin"], ss, strict=True):
        axes.append(org - sp / 2 + (np.arange(n * s) + 0.5) * sp / s)
    return axes


def sequence_params(center: dict[str, Any], sequence: str) -> dict[str, Any]:
    """The sequence dict of ``center`` with the center's contrast agent (r1, cp) filled in."""
    seq = dict(center["sequences"][sequence])
    if seq.get("contrast"):
        seq.setdefault("r1", center.get("r1", 4.5))
        seq.setdefault("cp", center.get("cp", 1.5))
    return seq


def scanner_params(center: dict[str, Any], seq: dict[str, Any]) -> dict[str, Any]:
    """Scanner dict for :func:`render`; noise sigma set so the liver has SNR ``snr`` at the 1.5 T signal level."""
    liver = float(np.abs(signal_lut(nominal_arrays(1.5), seq, 1.5)[0, Tissue.LIVER]))
    return {"field": float(center["field"]), "b1": float(center.get("b1", 0.0)), "b0": float(center.get("b0", 0.0)),
            "bias": float(center.get("bias", 0.0)), "gain": float(center.get("gain", 1.0)),
            "offset": float(center.get("offset", 0.0)), "sigma": noise_sigma(liver, float(center.get("snr", 30))),
            "snr": float(center.get("snr", 30))}


def simulate_scan(anatomy: dict[str, Any], params: dict[str, np.ndarray], center: dict[str, Any], sequence: str,
                  rng: np.random.Generator, size: str = "default", offset: tuple[float, float, float] = (0, 0, 0),
                  ss: tuple[int, int, int] = (1, 2, 2)) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(image float32, tissue map uint8 on the image grid, record of what was used)."""
    geom = scan_geometry(center, sequence, size)
    z, y, x = fine_axes(geom, ss)
    seq = sequence_params(center, sequence)
    jitter = float(seq.get("slice_jitter", 0.0))
    if jitter > 0:  # single-shot 2D: each slice at its own breathing position (mostly craniocaudal)
        offsets = [tuple(np.asarray(offset) + jitter * rng.standard_normal(3) * (0.2, 0.5, 1.0))
                   for _ in range(geom["shape"][0])]
        fine = np.concatenate([rasterize(anatomy, z[k * ss[0]:(k + 1) * ss[0]], y, x, off)
                               for k, off in enumerate(offsets)])
    else:
        offsets = []
        fine = rasterize(anatomy, z, y, x, offset)
    scanner = scanner_params(center, seq)
    image = render(fine, params, seq, scanner, rng, ss=ss, matrix=geom["matrix"])
    tissue = block_mode(fine, ss)
    record = {"sequence": seq, "scanner": scanner, "geometry": geom, "offset_mm": list(offset),
              "slice_offsets_mm": [list(map(float, o)) for o in offsets], "supersample": list(ss)}
    return image, tissue, record


def render_tissue_map(tissue: np.ndarray, center: dict[str, Any], sequence: str, rng: np.random.Generator,
                      params: dict[str, np.ndarray] | None = None, age: float = 45.0,
                      ss: tuple[int, int, int] = (1, 1, 1)) -> np.ndarray:
    """Render any tissue label map (e.g. ``OUT/tissues/*.nii.gz`` or a user's map with the classes of
    ``tissues.Tissue``) as ``sequence`` at ``center``; tissue parameters are drawn from ``rng`` unless given.
    With ``ss=(1, 1, 1)`` the image has the map's grid (no sub-voxel partial volume)."""
    if params is None:
        from crosspan.synth.tissues import patient_arrays

        params = patient_arrays(float(center["field"]), rng, age, t1_bias=float(center.get("t1_bias", 1.0)))
    seq = sequence_params(center, sequence)
    return render(np.asarray(tissue, dtype=np.uint8), params, seq, scanner_params(center, seq), rng, ss=ss)
