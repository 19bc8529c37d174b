"""The pancreas and its neighbours: SMV/portal vein, splenic vein, SMA and the duodenal C-loop.

The gland is a tube along a smooth random centerline (monotone cubic spline through head, neck, body and tail
nodes) with the AP thickness profile of PHYSICS.md section 4.1 (head 2.5-3.5 cm, neck 0.8-1.5, body 1.5-2.5,
tail 1.5-3.5), head in the duodenal C-loop anterior to the IVC, neck anterior to the SMV/portal confluence,
body over the aorta, tail rising to the splenic hilum; an uncinate process behind the SMV; the splenic vein
along its posterior surface. Lobulation and interlobular fat grow with age (Sato et al., Eur J Radiol 2012).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.interpolate import PchipInterpolator

from crosspan.synth.painter import RESERVED, Painter
from crosspan.synth.tissues import Tissue as T

SOFT = (T.VISCERAL_FAT, RESERVED, T.PANCREAS, T.BOWEL_WALL, T.FLUID, T.KIDNEY_CORTEX)


def pancreas_nodes(a: dict[str, Any]) -> dict[str, np.ndarray]:
    """Centerline nodes (x, y, z) and half-thickness AP (``ay``) / craniocaudal (``bz``) in mm."""
    ax, ay, ar = a["aorta"]
    ix, iy, _, isy = a["ivc"]
    s = a["pancreas_scale"]
    z0 = a["pancreas_z"]
    smv_x, smv_y = ax - 14, ay - ar - 18
    scx, scy, _, ssx = a["spleen"][:4]
    body_x = ax + 20
    tail_x = max(scx - ssx - 2, body_x + 30)
    tail_y = min(scy - 12, a["kidney_l"][1] - a["kidney_l"][4] - 10)
    rise = a["pancreas_tail_rise"]
    nodes = np.array([
        # x, y, z, ay, bz
        [ix - 24, iy - isy - 4 - 12 * s, z0 - 16, 11 * s, 15 * s],
        [ix - 8, iy - isy - 3 - 14 * s, z0 - 11, 14 * s, 23 * s],
        [smv_x, smv_y - 7.5 - 6 * s, z0, 6 * s, 11 * s],
        [body_x, ay - ar - 14 - 10 * s, z0 + 4, 10 * s, 12 * s],
        [(body_x + tail_x) / 2, (ay - ar - 14 - 10 * s + tail_y) / 2, z0 + 0.6 * rise, 9 * s, 10 * s],
        [tail_x, tail_y, z0 + rise, 8 * s, 9 * s],
    ])
    return {"x": nodes[:, 0], "y": nodes[:, 1], "z": nodes[:, 2], "ay": nodes[:, 3], "bz": nodes[:, 4],
            "smv": np.array([smv_x, smv_y])}


def _profile(n: dict[str, np.ndarray], key: str, taper: float = 0.0):  # noqa: ANN202 - returns a callable
    f = PchipInterpolator(n["x"], n[key], extrapolate=True)
    x0, x1 = n["x"][0], n["x"][-1]

    def fn(x: np.ndarray) -> np.ndarray:
        v = f(x).astype(np.float32)
        if taper:
            t = np.clip(np.minimum(x - x0, x1 - x) / taper, 0.0, 1.0)
            v = v * np.sqrt(np.clip(1.0 - (1.0 - t) ** 2, 0.05, 1.0))
        return v

    return fn


def paint_pancreas_region(p: Painter, a: dict[str, Any]) -> None:
    """Vessels first (they win), a fat envelope, the gland, the splenic vein, then the duodenum."""
    rng = np.random.default_rng(a["seed"] + 17)
    n = pancreas_nodes(a)
    ax, ay, ar = a["aorta"]
    ix, iy, _, isy = a["ivc"]
    z0 = a["pancreas_z"]
    smv_x, smv_y = n["smv"]
    s = a["pancreas_scale"]
    yc, zc = _profile(n, "y"), _profile(n, "z")
    pay, pbz = _profile(n, "ay", taper=9), _profile(n, "bz", taper=9)
    x0, x1 = float(n["x"][0]), float(n["x"][-1])
    # vessels: SMA, SMV + portal vein
    soft = (T.VISCERAL_FAT, RESERVED)
    p.polyline([(ax, ay - ar + 2, z0 + 14), (ax - 4, ay - ar - 8, z0 - 4), (ax - 5, ay - ar - 8, -200)], 3.5,
               T.AORTA, into=soft)
    p.capsule((smv_x, smv_y, z0), (smv_x - 3, smv_y - 3, -200), 6.0, T.PORTAL_VEIN, into=soft)
    p.capsule((smv_x, smv_y, z0), (ix - 12, iy - isy - 12, z0 + 45), 7.0, T.PORTAL_VEIN, into=soft)
    # envelope of peripancreatic fat, then the gland with age-dependent lobulation and fat clefts
    unc_c, unc_s = (smv_x - 9, smv_y + 11, z0 - 24), (12 * s, 6 * s, 11 * s)
    p.xtube(x0 - 6, x1 + 6, yc, zc, lambda x: 1.3 * pay(x) + 5, lambda x: 1.3 * pbz(x) + 5, RESERVED,
            into=(T.VISCERAL_FAT,))
    p.ellipsoid(unc_c, tuple(v + 4 for v in unc_s), RESERVED, into=(T.VISCERAL_FAT,))
    lob = float(a["lobulation"])
    bumps = p.smooth_noise(rng, wavelength=14.0)
    clefts = p.smooth_noise(rng, wavelength=6.0, n_waves=8)

    def lobulate(z: np.ndarray, y: np.ndarray, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        return u / (1.0 + (0.06 + 0.14 * lob) * bumps(z, y, x)) ** 2

    p.xtube(x0, x1, yc, zc, pay, pbz, T.PANCREAS, into=(RESERVED,), extra=lobulate)
    p.ellipsoid(unc_c, unc_s, T.PANCREAS, into=(RESERVED,))
    thr = 2.6 - 1.4 * lob
    if lob > 0.05:
        m = 5 + 0.5 * float(n["bz"].max())
        lo = (float(min((n["z"] - n["bz"]).min(), unc_c[2] - unc_s[2])) - m, float((n["y"] - n["ay"]).min()) - m, x0)
        hi = (float((n["z"] + n["bz"]).max()) + m, float(max((n["y"] + n["ay"]).max(), unc_c[1] + unc_s[1])) + m, x1)
        p.paint(lambda z, y, x: clefts(z, y, x) > thr, lo, hi, RESERVED, into=(T.PANCREAS,))  # fat at the end
    # splenic vein hugging the posterior surface of body and tail, then on to the splenic hilum
    r_sv = 4.5

    def sv_y(x: np.ndarray) -> np.ndarray:
        return yc(x) + pay(x) * 0.95 + r_sv

    def sv_z(x: np.ndarray) -> np.ndarray:
        return zc(x) - 0.25 * pbz(x)

    sv_end = x1 - 8
    p.xtube(smv_x, sv_end, sv_y, sv_z, lambda x: np.full_like(x, r_sv), lambda x: np.full_like(x, r_sv),
            T.SPLENIC_VEIN, into=soft)
    scx, scy, scz, ssx = a["spleen"][:4]
    xe = np.array([sv_end], np.float32)
    end = (sv_end, float(sv_y(xe)[0]), float(sv_z(xe)[0]))
    p.capsule(end, (scx - ssx * 0.5, scy - 5, scz - 15), r_sv, T.SPLENIC_VEIN, into=soft)
    _paint_duodenum(p, a, n)


def _paint_duodenum(p: Painter, a: dict[str, Any], n: dict[str, np.ndarray]) -> None:
    """The C-loop (D1-D4) around the head: wall then fluid content."""
    ax, ay, ar = a["aorta"]
    z0 = a["pancreas_z"]
    r = 12.5
    x_hs, yh = float(n["x"][0]), float(n["y"][1])
    pyl = (ax - 15, a["stomach"][1] - 8, z0 + 30)
    pts = [pyl, (x_hs - r + 3, yh - 10, z0 + 26), (x_hs - r - 2, yh + 2, z0 - 40),
           (ax + 22, ay - ar - r - 4, z0 - 50), (ax + 32, ay - ar - r - 10, z0 - 22)]
    cav = (T.VISCERAL_FAT, RESERVED)
    p.polyline(pts, r, T.BOWEL_WALL, into=cav)
    p.polyline(pts, r - 3.0, T.FLUID, into=(T.BOWEL_WALL,))
