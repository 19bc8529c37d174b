"""Toy data for the engine tests: bright blobs (the "pancreas") inside a body ellipsoid, in noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from crosspan.data.catalog import COLUMNS, save_catalog
from crosspan.data.io import ImageProperties, write_image

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)  # LPS
#: an oblique, axis-permuted geometry (not LPS) for geometry tests
OBLIQUE = tuple(float(v) for v in (np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]]) @ np.array(
    [[0.96592583, -0.25881905, 0], [0.25881905, 0.96592583, 0], [0, 0, 1]])).ravel())


def toy_volume(seed: int, shape: tuple[int, int, int] = (32, 40, 40)) -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(seed)
    zz, yy, xx = np.meshgrid(*[np.arange(s, dtype=np.float32) for s in shape], indexing="ij")
    c = np.asarray(shape) / 2
    body = ((zz - c[0]) / (0.45 * shape[0])) ** 2 + ((yy - c[1]) / (0.42 * shape[1])) ** 2 + (
        (xx - c[2]) / (0.42 * shape[2])) ** 2 < 1
    centre = c + g.uniform(-0.15, 0.15, 3) * np.asarray(shape)
    r = g.uniform(4.0, 6.0)
    blob = (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2 < r**2
    img = 10 + 100 * body + 120 * blob + g.normal(0, 12, shape)
    return img.astype(np.float32), blob.astype(np.uint8)


def toy_dataset(root: Path, n: int = 6, spacing: tuple[float, float, float] = (2.0, 1.0, 1.0),
                direction: tuple[float, ...] = IDENTITY, splits: tuple[str, ...] | None = None,
                shape: tuple[int, int, int] = (32, 40, 40)) -> Path:
    """Write ``n`` cases and a catalog CSV (centers A/B alternating, sequence T1); returns the catalog path."""
    rows = []
    splits = splits or tuple(["train"] * (n - 2) + ["val", "test"])
    for i in range(n):
        img, lab = toy_volume(i, shape)
        props = ImageProperties(shape=img.shape, spacing=spacing, origin=(10.0, -5.0, 3.0), direction=direction)
        ip = write_image(img, props, root / f"case{i}.nii.gz")
        lp = write_image(lab, props, root / f"case{i}_seg.nii.gz")
        rows.append({"case_id": f"case{i}", "patient_id": f"p{i}", "center": "AB"[i % 2], "sequence": "T1",
                     "split": splits[i], "image": str(ip), "label": str(lp), "shape_z": shape[0], "shape_y": shape[1],
                     "shape_x": shape[2], "spacing_z": spacing[0], "spacing_y": spacing[1], "spacing_x": spacing[2],
                     "orientation": props.orientation, "p0_5": 0, "p50": 0, "p99_5": 0,
                     "label_voxels": int(lab.sum()), "label_ml": 0.0, "label_components": 1})
    path = root / "catalog.csv"
    save_catalog(pd.DataFrame(rows, columns=COLUMNS), path)
    return path
