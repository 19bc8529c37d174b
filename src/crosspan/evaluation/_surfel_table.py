"""Surfel normals of the 256 neighbour codes of a 2x2x2 voxel neighbourhood, computed, not copied.

Each code's surface is triangulated by classic marching cubes (Lorensen & Cline, SIGGRAPH 1987; scikit-image's
``marching_cubes(method="lorensen")``) at level 0.5 on the 2x2x2 corner configuration. A configuration with more
than four foreground corners takes the triangles of its complement: the same surface, triangulated from the
minority side. This is the convention of DeepMind's ``surface-distance`` (Nikolov et al., arXiv:1809.04430);
the tests check our surfel areas against that package to 1e-6. A normal's length is its triangle's area on a
unit grid. Bit order of a code follows ``ENCODING_KERNEL`` (the corner at offset (0, 0, 0) is the highest bit).
"""

from __future__ import annotations

import functools

import numpy as np

ENCODING_KERNEL = (((128, 64), (32, 16)), ((8, 4), (2, 1)))


def _triangle_normals(code: int) -> np.ndarray:
    """(n, 3) area-weighted normals (z, y, x) of the marching-cubes triangles of one neighbour code."""
    from skimage.measure import marching_cubes

    if bin(code).count("1") > 4:
        code = 255 - code
    cube = np.zeros((2, 2, 2), dtype=np.float32)
    for a in range(2):
        for b in range(2):
            for c in range(2):
                cube[a, b, c] = 1.0 if code & ENCODING_KERNEL[a][b][c] else 0.0
    if cube.sum() in (0, 8):
        return np.zeros((0, 3))
    verts, faces, _, _ = marching_cubes(cube, 0.5, method="lorensen")
    tri = verts[faces].astype(np.float64)
    return 0.5 * np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])


@functools.lru_cache(maxsize=1)
def neighbour_code_normals() -> np.ndarray:
    """(256, max_triangles, 3) normals, zero-padded."""
    per_code = [_triangle_normals(c) for c in range(256)]
    width = max(len(n) for n in per_code)
    out = np.zeros((256, width, 3))
    for code, normals in enumerate(per_code):
        out[code, : len(normals)] = normals
    out.setflags(write=False)
    return out
