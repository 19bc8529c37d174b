"""Random abdominal anatomy at the pancreas level, evaluated on any grid as a tissue label map.

Coordinates are patient mm in LPS: +x to the patient's left, +y posterior, +z superior; z = 0 is about the
L1-L2 level (transpyloric plane). A patient is a dict of random numbers (:func:`sample_anatomy`);
:func:`rasterize` paints it on a grid, so the same patient can be drawn at any spacing and with any rigid
offset (breathing) between sequences. Sizes follow PHYSICS.md section 4.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crosspan.synth.painter import RESERVED, Painter
from crosspan.synth.pancreas import paint_pancreas_region
from crosspan.synth.tissues import Tissue as T

CAVITY = (T.VISCERAL_FAT, RESERVED)


def sample_anatomy(rng: np.random.Generator) -> dict[str, Any]:
    """Draw one patient's anatomy parameters (plain floats, JSON-serialisable)."""
    u = rng.uniform
    age = float(u(20, 85))
    body_rx, body_ry = u(135, 160), u(95, 115)
    vert_y = body_ry - u(52, 62)
    a = {
        "seed": int(rng.integers(0, 2**31 - 1)),
        "age": age,
        "body": [body_rx, body_ry, u(-4, 4)],           # semi-axes x, y and center y
        "subcut": u(8, 30), "wall": u(7, 12),
        "vert": [u(-3, 3), vert_y, u(19, 23), u(15, 18)],  # x, y, semi x, semi y
        "aorta": [u(8, 16), vert_y - u(26, 32), u(9, 12)],
        "ivc": [u(-28, -20), vert_y - u(20, 26), u(11, 14), u(7, 10)],
        "kidney_l": [u(65, 80), vert_y + u(-8, 4), u(-15, 5), u(25, 30), u(20, 24), u(48, 60), u(0.2, 0.5)],
        "kidney_r": [u(-80, -65), vert_y + u(-8, 4), u(-35, -15), u(25, 30), u(20, 24), u(48, 60), u(-0.5, -0.2)],
        "spleen": [u(85, 100), u(15, 35), u(35, 55), u(22, 28), u(45, 58), u(45, 60), u(-0.9, -0.5)],
        "liver": [u(-60, -40), u(-15, 5), u(50, 65), u(90, 105), u(85, 100), u(80, 95)],
        "stomach": [u(40, 60), u(-45, -25), u(50, 70), u(35, 48), u(30, 40), u(40, 55)],
        "psoas": [u(9, 13)],
        "wobble": rng.uniform(-0.08, 0.08, (6, 6)).tolist(),
        "pancreas_scale": u(1.05, 1.35) * (1.0 - 0.003 * max(age - 60.0, 0.0)),
        "pancreas_z": u(-10, 10),
        "pancreas_tail_rise": u(10, 35),
        "lobulation": float(np.clip((age - 25) / 60, 0, 1)) * u(0.5, 1.0),
        "bowel": rng.uniform(0, 1, (14, 6)).tolist(),
        "colon": [u(-25, -10), u(0.45, 0.65), u(15, 22)],  # transverse colon: z below the pancreas, depth, radius
        "breath": [u(-1.0, 1.0), u(-2.0, 2.0), u(-5.0, 5.0)],  # typical rigid offset scale per axis (x, y, z)
    }
    return a


def breathing_offset(anatomy: dict[str, Any], rng: np.random.Generator) -> tuple[float, float, float]:
    """A small rigid (x, y, z) offset in mm between sequences of one patient (breath-hold position)."""
    scale = np.abs(np.asarray(anatomy["breath"])) + np.array([0.5, 1.0, 2.0])
    ox, oy, oz = (float(v) for v in rng.uniform(-1, 1, 3) * scale)
    return ox, oy, oz


def rasterize(anatomy: dict[str, Any], z: np.ndarray, y: np.ndarray, x: np.ndarray,
              offset: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """Tissue label map (uint8, shape (len(z), len(y), len(x))) on the grid of mm coordinates; the anatomy is
    moved by ``offset`` (x, y, z mm) and scaled about the origin by ``anatomy["body_scale"]`` (default 1)."""
    ox, oy, oz = offset
    s = float(anatomy.get("body_scale", 1.0))  # a profile's whole-body scale: coordinates shrink, anatomy grows
    z, y, x = np.asarray(z) - oz, np.asarray(y) - oy, np.asarray(x) - ox
    p = Painter(z, y, x) if s == 1.0 else Painter(z / s, y / s, x / s)
    _paint_trunk(p, anatomy)
    _paint_retroperitoneum(p, anatomy)
    paint_pancreas_region(p, anatomy)
    _paint_upper_organs(p, anatomy)
    _paint_liver_vessels(p, anatomy)
    _paint_bowel(p, anatomy)
    p.labels[p.labels == RESERVED] = T.VISCERAL_FAT
    return p.labels


def _paint_trunk(p: Painter, a: dict[str, Any]) -> None:
    """Body outline, subcutaneous fat, abdominal wall, spine and paraspinal muscles: a 2D section along z."""
    rx, ry, cy = a["body"]
    yy, xx = p.y[:, None], p.x[None, :]
    post = np.where(yy - cy > 0, 1.0 + 0.12 * (yy - cy) / ry, 1.0)  # flatter back
    r_body = np.sqrt((xx / rx) ** 2 + ((yy - cy) * post / ry) ** 2)
    sc, wall = a["subcut"], a["wall"]
    r_mus = np.sqrt((xx / (rx - sc)) ** 2 + ((yy - cy) * post / (ry - sc)) ** 2)
    r_cav = np.sqrt((xx / (rx - sc - wall)) ** 2 + ((yy - cy) * post / (ry - sc - wall)) ** 2)
    sl = np.zeros(r_body.shape, dtype=np.uint8)
    sl[r_body <= 1] = T.SUBCUT_FAT
    sl[r_mus <= 1] = T.MUSCLE
    sl[r_cav <= 1] = T.VISCERAL_FAT
    vx, vy, vsx, vsy = a["vert"]
    paraspinal = (((np.abs(xx - vx) - 32) / 24) ** 2 + ((yy - vy - 38) / 22) ** 2) <= 1
    sl[paraspinal & (r_body <= 1)] = T.MUSCLE
    rv = ((xx - vx) / vsx) ** 2 + ((yy - vy) / vsy) ** 2
    sl[rv <= 1] = T.BONE
    sl[rv <= 0.78] = T.MARROW
    arch = (((xx - vx) / 14) ** 2 + ((yy - vy - vsy - 12) / 11) ** 2) <= 1
    sl[arch] = T.BONE
    sl[(((xx - vx) / 7) ** 2 + ((yy - vy - vsy - 10) / 7) ** 2) <= 1] = T.FLUID  # spinal canal (CSF)
    axx, ayy, ar = a["aorta"]
    sl[(xx - axx) ** 2 + (yy - ayy) ** 2 <= ar * ar] = T.AORTA
    ix, iy, isx, isy = a["ivc"]
    sl[((xx - ix) / isx) ** 2 + ((yy - iy) / isy) ** 2 <= 1] = T.IVC
    p.labels[:] = sl[None]


def _paint_retroperitoneum(p: Painter, a: dict[str, Any]) -> None:
    """Psoas (growing caudally) and kidneys (cortex around medulla)."""
    vx, vy, vsx, _ = a["vert"]
    r0 = a["psoas"][0]
    for side in (-1, 1):
        cx = vx + side * (vsx + r0 + 2)
        p.capsule((cx, vy - 4, 20), (cx + side * 8, vy - 10, -140), r0, T.MUSCLE, into=CAVITY)
        p.capsule((cx + side * 6, vy - 8, -60), (cx + side * 10, vy - 12, -140), r0 + 6, T.MUSCLE, into=CAVITY)
    w = a["wobble"]
    for key, wi in (("kidney_l", 0), ("kidney_r", 1)):
        cx, cy, cz, sx, sy, sz, ang = a[key]
        p.ellipsoid((cx, cy, cz), (sx, sy, sz), T.KIDNEY_CORTEX, into=CAVITY, angle=ang, wobble=np.array(w[wi]) * 0.5)
        side = np.sign(cx)
        p.ellipsoid((cx - side * 4, cy, cz), (sx * 0.55, sy * 0.55, sz * 0.72), T.KIDNEY_MEDULLA,
                    into=(T.KIDNEY_CORTEX,), angle=ang)
        p.ellipsoid((cx - side * (sx * 0.75), cy - 2, cz), (sx * 0.35, sy * 0.45, sz * 0.35), T.VISCERAL_FAT,
                    into=(T.KIDNEY_CORTEX, T.KIDNEY_MEDULLA), angle=ang)  # renal sinus fat at the hilum


def _paint_upper_organs(p: Painter, a: dict[str, Any]) -> None:
    """Stomach (wall + fluid), spleen, then the liver filling the remaining right upper cavity."""
    w = a["wobble"]
    cx, cy, cz, sx, sy, sz = a["stomach"]
    p.ellipsoid((cx, cy, cz), (sx, sy, sz), T.BOWEL_WALL, into=(T.VISCERAL_FAT,), wobble=np.array(w[2]) * 0.5)
    pyl = (a["aorta"][0] - 15, cy - 8, a["pancreas_z"] + 30)
    p.capsule((cx - 10, cy, cz - 15), pyl, 17, T.BOWEL_WALL, into=(T.VISCERAL_FAT,))
    p.ellipsoid((cx, cy, cz), (sx - 5, sy - 5, sz - 5), T.FLUID, into=(T.BOWEL_WALL,), wobble=np.array(w[2]) * 0.5)
    p.capsule((cx - 10, cy, cz - 15), pyl, 12, T.FLUID, into=(T.BOWEL_WALL,))
    cx, cy, cz, sx, sy, sz, ang = a["spleen"]
    p.ellipsoid((cx, cy, cz), (sx, sy, sz), T.SPLEEN, into=(T.VISCERAL_FAT,), angle=ang, wobble=w[3])
    cx, cy, cz, sx, sy, sz = a["liver"]
    p.ellipsoid((cx, cy, cz), (sx, sy, sz), T.LIVER, into=(T.VISCERAL_FAT,), angle=0.15, wobble=w[4])


def _paint_liver_vessels(p: Painter, a: dict[str, Any]) -> None:
    """Hepatic veins draining into the IVC and portal branches inside the liver."""
    ix, iy, _, _ = a["ivc"]
    cx, cy, cz, sx, sy, _ = a["liver"]
    top = (ix, iy, cz + 40)
    for ex, ey, ez in ((cx - 0.6 * sx, cy - 0.1 * sy, cz + 20), (cx - 0.1 * sx, cy - 0.55 * sy, cz + 25),
                       (cx + 0.45 * sx, cy - 0.45 * sy, cz + 30)):
        p.capsule(top, (ex, ey, ez), 4.5, T.IVC, into=(T.LIVER,))
    hilum = (ix - 12, iy - a["ivc"][3] - 12, a["pancreas_z"] + 45)
    for ex, ey, ez in ((cx - 0.55 * sx, cy + 0.1 * sy, cz - 10), (cx + 0.2 * sx, cy - 0.5 * sy, cz)):
        p.capsule(hilum, (ex, ey, ez), 4.0, T.PORTAL_VEIN, into=(T.LIVER,))


def _paint_bowel(p: Painter, a: dict[str, Any]) -> None:
    """Transverse colon (air-filled) and small-bowel loops (fluid or air) in the anterior and lower cavity: wall
    first, then content, painted only into free visceral fat."""
    rx, ry, cy = a["body"]
    z0 = a["pancreas_z"]
    dz, depth, rc = a["colon"]
    loops = [((-0.62 * rx, cy - ry * depth + 10, z0 + dz + 15), (0.0, cy - ry * (depth + 0.1), z0 + dz), rc, T.AIR),
             ((0.0, cy - ry * (depth + 0.1), z0 + dz), (0.6 * rx, cy - ry * depth + 25, z0 + dz + 45), rc, T.AIR)]
    for bx, by, bz, kind, ang, elev in a["bowel"]:
        c = np.array([(bx - 0.5) * rx * 1.4, cy - ry * (0.15 + 0.55 * by), -100 + 110 * bz])
        d = np.array([np.cos(ang * 2 * np.pi), 0.4 * np.sin(ang * 2 * np.pi), elev - 0.5])
        d = d / np.linalg.norm(d) * (18 + 20 * kind)
        loops.append((c - d, c + d, 9 + 5 * kind, T.FLUID if kind > 0.35 else T.AIR))
    for p0, p1, r, _ in loops:
        p.capsule(p0, p1, r, T.BOWEL_WALL, into=(T.VISCERAL_FAT,))
    for p0, p1, r, content in loops:
        p.capsule(p0, p1, r - 2.5, content, into=(T.BOWEL_WALL,))
