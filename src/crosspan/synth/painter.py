"""Rasterise simple shapes (ellipsoids, capsules, x-parametrised tubes) into a tissue label map.

Every shape is evaluated only inside its bounding box; ``into`` restricts which classes a shape may overwrite,
so the paint order decides priority and organs never overlap (one integer class per voxel).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

RESERVED = 250  # temporary class: fat envelope kept free around the pancreas, turned into visceral fat at the end


class Painter:
    """A label volume on a rectilinear grid with 1D coordinate vectors (mm) per axis (z, y, x)."""

    def __init__(self, z: np.ndarray, y: np.ndarray, x: np.ndarray) -> None:
        self.z, self.y, self.x = (np.asarray(a, dtype=np.float32) for a in (z, y, x))
        self.labels = np.zeros((len(z), len(y), len(x)), dtype=np.uint8)

    def _slices(self, lo: Iterable[float], hi: Iterable[float]) -> tuple[slice, slice, slice] | None:
        out = []
        for c, a, b in zip((self.z, self.y, self.x), lo, hi, strict=True):
            i0, i1 = int(np.searchsorted(c, a, "left")), int(np.searchsorted(c, b, "right"))
            if i1 <= i0:
                return None
            out.append(slice(i0, i1))
        sz, sy, sx = out
        return sz, sy, sx

    def paint(self, fn: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray], lo: Iterable[float],
              hi: Iterable[float], label: int, into: Iterable[int] | None = None) -> None:
        """Set ``label`` where ``fn(Z, Y, X)`` (broadcast mm coordinates of the box) is true."""
        sl = self._slices(lo, hi)
        if sl is None:
            return
        zz = self.z[sl[0]][:, None, None]
        yy = self.y[sl[1]][None, :, None]
        xx = self.x[sl[2]][None, None, :]
        mask = np.broadcast_to(fn(zz, yy, xx), tuple(s.stop - s.start for s in sl))
        sub = self.labels[sl]
        if into is not None:
            allowed = np.zeros(256, dtype=bool)
            allowed[list(into)] = True
            mask = mask & allowed[sub]
        sub[mask] = label

    def ellipsoid(self, center: Iterable[float], semi: Iterable[float], label: int, into: Iterable[int] | None = None,
                  angle: float = 0.0, wobble: np.ndarray | None = None) -> None:
        """Ellipsoid (center/semi in x, y, z mm), rotated by ``angle`` (rad) in the axial plane; ``wobble``
        (6 coefficients) deforms the radius smoothly with the direction."""
        cx, cy, cz = center
        sx, sy, sz = semi
        r = max(sx, sy) * 1.35
        ca, sa = np.cos(angle), np.sin(angle)
        w = np.zeros(6) if wobble is None else np.asarray(wobble)

        def fn(z: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
            dx, dy, dz = x - cx, y - cy, z - cz
            u = (ca * dx + sa * dy) / sx
            v = (-sa * dx + ca * dy) / sy
            t = dz / sz
            d2 = u * u + v * v + t * t
            lim = 1.0 + w[0] * u + w[1] * v + w[2] * t + w[3] * u * v + w[4] * v * t + w[5] * (u * u - v * v)
            return d2 <= lim * lim

        lo, hi = (cx - r, cy - r, cz - sz * 1.35), (cx + r, cy + r, cz + sz * 1.35)
        self.paint(fn, lo[::-1], hi[::-1], label, into)

    def capsule(self, p0: Iterable[float], p1: Iterable[float], radius: float, label: int,
                into: Iterable[int] | None = None) -> None:
        """Tube of constant ``radius`` around the segment p0-p1 (x, y, z mm) with round caps."""
        a, b = np.asarray(p0, float), np.asarray(p1, float)
        ab = b - a
        denom = float(ab @ ab) or 1e-9
        lo, hi = np.minimum(a, b) - radius, np.maximum(a, b) + radius

        def fn(z: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
            px, py, pz = x - a[0], y - a[1], z - a[2]
            t = np.clip((px * ab[0] + py * ab[1] + pz * ab[2]) / denom, 0.0, 1.0)
            return (px - t * ab[0]) ** 2 + (py - t * ab[1]) ** 2 + (pz - t * ab[2]) ** 2 <= radius * radius

        self.paint(fn, lo[::-1], hi[::-1], label, into)

    def polyline(self, points: Sequence[Iterable[float]], radius: float, label: int,
                 into: Iterable[int] | None = None) -> None:
        for p0, p1 in zip(points[:-1], points[1:], strict=True):
            self.capsule(p0, p1, radius, label, into)

    def xtube(self, x0: float, x1: float, yc: Callable, zc: Callable, ay: Callable, bz: Callable, label: int,
              into: Iterable[int] | None = None, extra: Callable | None = None) -> None:
        """Tube running along x: an elliptic cross-section (half-axes ``ay(x)``, ``bz(x)``) around the centerline
        (x, ``yc(x)``, ``zc(x)``); the callables take the box's x coordinates. ``extra(z, y, x, u)`` can modulate
        the normalised radius ``u`` (lobulation)."""
        xs = self.x[(self.x >= x0) & (self.x <= x1)]
        if xs.size == 0:
            return
        ycs, zcs, ays, bzs = yc(xs), zc(xs), ay(xs), bz(xs)
        m = 2.0 + (0.5 * float(max(ays.max(), bzs.max())) if extra is not None else 0.0)  # room for lobulation
        lo = (float((zcs - bzs).min()) - m, float((ycs - ays).min()) - m, x0)
        hi = (float((zcs + bzs).max()) + m, float((ycs + ays).max()) + m, x1)

        def fn(z: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
            k = np.searchsorted(xs, x[0, 0, :])
            k = np.clip(k, 0, xs.size - 1)
            u = ((y - ycs[k]) / ays[k]) ** 2 + ((z - zcs[k]) / bzs[k]) ** 2
            if extra is not None:
                u = extra(z, y, x, u)
            return u <= 1.0

        self.paint(fn, lo, hi, label, into)

    def smooth_noise(self, rng: np.random.Generator, wavelength: float, n_waves: int = 6) -> Callable:
        """A smooth random field (sum of plane waves, values in about [-1, 1]) as a callable of (z, y, x)."""
        k = rng.standard_normal((n_waves, 3))
        k *= (2 * np.pi / wavelength) / np.linalg.norm(k, axis=1, keepdims=True)
        phase = rng.uniform(0, 2 * np.pi, n_waves)

        def fn(z: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
            s = 0.0
            for (kz, ky, kx), ph in zip(k, phase, strict=True):
                s = s + np.sin(kz * z + ky * y + kx * x + ph)
            return np.asarray(s * np.float32(np.sqrt(2.0 / n_waves)))

        return fn
