"""Render a tissue label map as an MR image: a pure function of (tissue map, tissue parameters, sequence,
scanner, rng).

The complex signal is looked up per tissue (and per transmit-B1 level) on a supersampled grid, low-passed to
the acquired k-space matrix (partial volume on the complex signal, then Gibbs ringing from truncation, as
PHYSICS.md section 6 asks), zero-filled to the reconstruction matrix, multiplied by a smooth receive bias,
given complex Gaussian noise (so the magnitude is Rician, Gudbjartsson & Patz, MRM 1995) and scaled by a
vendor gain/offset.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.fft
from scipy import ndimage

from crosspan.synth.scanner import field_gain, smooth_field, smooth_poly
from crosspan.synth.sequences import fatsat_failure, fatsat_failure_lut, signal_lut

N_B1_BINS = 12


def b1_map_inplane(shape: tuple[int, int], amp: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth relative flip-angle map: central brightening/dropout plus a random gradient (1 = nominal)."""
    y = np.linspace(-1, 1, shape[0], dtype=np.float32)[:, None]
    x = np.linspace(-1, 1, shape[1], dtype=np.float32)[None, :]
    c = rng.uniform(-1, 1, 3)
    m = 1.0 + amp * (0.5 - (x * x + y * y) * (0.7 + 0.3 * c[0]) + 0.4 * c[1] * x + 0.4 * c[2] * y)
    return np.clip(m, 0.3, 1.6).astype(np.float32)


def block_mode(labels: np.ndarray, ss: tuple[int, int, int]) -> np.ndarray:
    """The most frequent label in each ``ss`` block (first in block order wins ties): the tissue map on the
    image grid that matches a render with supersampling ``ss``."""
    nz, ny, nx = (n // s for n, s in zip(labels.shape, ss, strict=True))
    b = labels[: nz * ss[0], : ny * ss[1], : nx * ss[2]].reshape(nz, ss[0], ny, ss[1], nx, ss[2])
    vals = b.transpose(0, 2, 4, 1, 3, 5).reshape(nz, ny, nx, -1)
    k = vals.shape[-1]
    if k == 1:
        return vals[..., 0].copy()
    counts = np.zeros(vals.shape, dtype=np.uint8)
    for i in range(k):
        for j in range(k):
            counts[..., i] += vals[..., i] == vals[..., j]
    best = np.argmax(counts, axis=-1)
    return np.take_along_axis(vals, best[..., None], axis=-1)[..., 0]


def _kspace_resample(fine: np.ndarray, out_yx: tuple[int, int], matrix: tuple[int, int], ss: tuple[int, int],
                     ghost: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """Low-pass each slice to the acquired ``matrix`` and sample it on the ``out_yx`` grid whose voxel centers are
    the centers of the ``ss`` blocks of the fine grid (half-sample shift done in k-space). ``ghost`` (rad) adds a
    periodic phase error across phase-encode lines (y), as breathing does: ghosts of the body along y."""
    nz, nyf, nxf = fine.shape
    k = scipy.fft.fft2(fine, axes=(1, 2), workers=1)
    out = np.zeros((nz, *out_yx), dtype=np.complex64)
    idx = []
    for n_f, n_out, m, s in zip((nyf, nxf), out_yx, matrix, ss, strict=True):
        freqs = np.arange(-(m // 2), m - m // 2)
        shift = np.exp(2j * np.pi * freqs * ((s - 1) / 2.0) / n_f).astype(np.complex64)
        idx.append((freqs % n_f, freqs % n_out, shift))
    (fy, oy, sy), (fx, ox, sx) = idx
    if ghost > 0 and rng is not None:
        period = rng.uniform(6, 16)  # phase-encode lines per breathing cycle
        sy = sy * np.exp(1j * ghost * np.sin(2 * np.pi * np.arange(sy.size) / period + rng.uniform(0, 2 * np.pi)))
    out[:, oy[:, None], ox[None, :]] = k[:, fy[:, None], fx[None, :]] * (sy[:, None] * sx[None, :])
    img = scipy.fft.ifft2(out, axes=(1, 2), workers=1)
    return (img * (out_yx[0] * out_yx[1] / (nyf * nxf))).astype(np.complex64)


def render(tissue: np.ndarray, params: dict[str, np.ndarray], seq: dict[str, Any], scanner: dict[str, Any],
           rng: np.random.Generator, ss: tuple[int, int, int] = (1, 2, 2),
           matrix: tuple[int, int] | None = None) -> np.ndarray:
    """Magnitude image (float32) on the grid ``tissue.shape // ss`` from a supersampled tissue label map.

    ``params``: per-tissue arrays (tissues.patient_arrays); ``seq``: sequence dict (kind, TR, TE, FA, ...);
    ``scanner``: field, b1, b0 (Hz, off-resonance map amplitude), bias, sigma (noise per channel), gain, offset;
    ``matrix``: acquired (phase, read) samples (default: the output grid, i.e. only the fine-to-coarse low-pass).
    """
    field = float(scanner["field"])
    nz, ny, nx = (n // s for n, s in zip(tissue.shape, ss, strict=True))
    tissue = tissue[: nz * ss[0], : ny * ss[1], : nx * ss[2]]
    b1 = b1_map_inplane(tissue.shape[1:], float(scanner.get("b1", 0.0)), rng)
    levels = np.linspace(float(b1.min()), float(b1.max()), N_B1_BINS)
    lut = signal_lut(params, seq, field, levels).astype(np.complex64)  # (bins, tissues)
    step = (levels[-1] - levels[0]) / (N_B1_BINS - 1) if N_B1_BINS > 1 and levels[-1] > levels[0] else 1.0
    b1_bin = np.clip(np.rint((b1 - levels[0]) / step), 0, N_B1_BINS - 1).astype(np.intp)
    n_t = lut.shape[1]
    fine = lut.ravel()[b1_bin[None] * n_t + tissue]
    texture = np.asarray(params.get("texture", np.zeros(n_t)), dtype=np.float32)
    if texture.any():  # fine parenchymal heterogeneity: smooth noise (~2-3 mm grain) scaled per tissue
        grain = ndimage.gaussian_filter(rng.standard_normal((nz, ny, nx), dtype=np.float32), (0, 0.8, 0.8))
        grain *= np.float32(1.0 / max(float(grain.std()), 1e-6))
        amp = texture[tissue].reshape(nz, ss[0], ny, ss[1], nx, ss[2])
        amp *= grain[:, None, :, None, :, None]
        amp += 1.0
        fine *= amp.reshape(fine.shape)
    if ss[0] > 1:
        fine = fine.reshape(nz, ss[0], *fine.shape[1:]).mean(axis=1)
    img = _kspace_resample(fine, (ny, nx), matrix or (ny, nx), ss[1:], float(seq.get("ghost", 0.0)), rng)
    b0_amp = float(scanner.get("b0", 0.0))
    if b0_amp > 0 and seq.get("fatsat") is not None:  # fat-sat fails where the smooth B0 map is off-resonant
        extra = fatsat_failure_lut(params, seq, field, levels).astype(np.complex64).ravel()
        b0 = b0_amp * smooth_poly((nz, ny, nx), rng.uniform(-1, 1, 10))
        q = fatsat_failure(b0, field).astype(np.float32)
        extra_fine = extra[b1_bin[None] * n_t + tissue]
        img += q * extra_fine.reshape(nz, ss[0], ny, ss[1], nx, ss[2]).mean(axis=(1, 3, 5))
    img *= smooth_field((nz, ny, nx), rng.uniform(-1, 1, 10) * float(scanner.get("bias", 0.0)) / 2)
    img *= np.float32(field_gain(field))
    sigma = float(scanner.get("sigma", 0.0))
    if sigma > 0:
        img += (rng.standard_normal(img.shape, dtype=np.float32)
                + 1j * rng.standard_normal(img.shape, dtype=np.float32)) * np.float32(sigma)
    out = np.abs(img) * np.float32(scanner.get("gain", 1.0)) + np.float32(scanner.get("offset", 0.0))
    return out.astype(np.float32)
