"""A grid of random physics-rand training draws for one anatomy (the figure of issue #12)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from crosspan.core.atomic import atomic_path
from crosspan.core.errors import CrosspanError
from crosspan.data.io import read_image
from crosspan.methods.labelmap.draws import FAMILIES, draw_images, volume_zscore
from crosspan.synth.tissues import Tissue


def synthetic_anatomy(seed: int = 0, spacing: tuple[float, float, float] = (5.0, 2.5, 2.5)) -> np.ndarray:
    """Tissue map of one synthetic abdomen (``crosspan.synth.anatomy``) on a 200 x 252 x 336 mm grid."""
    from crosspan.core.seeding import rng
    from crosspan.synth.anatomy import rasterize, sample_anatomy

    z, y, x = ((np.arange(int(fov / s)) - (int(fov / s) - 1) / 2) * s
               for fov, s in zip((200, 252, 336), spacing, strict=True))
    return rasterize(sample_anatomy(rng(seed, "anatomy", "figure")), z, y, x).astype(np.int64)


def draw_grid_png(tissue_map: np.ndarray, spacing: tuple[float, ...], n: int = 12, seed: int = 0, cols: int = 4,
                  dpi: int = 110) -> bytes:
    """PNG bytes: ``n`` random draws of ``tissue_map`` (classes of ``synth.tissues.Tissue``), the axial slice
    through the pancreas centre of each, pancreas outlined, titled with family, field and TE or TI."""
    from matplotlib.figure import Figure

    arr = np.rint(tissue_map).astype(np.int64)
    panc = arr == Tissue.PANCREAS
    if not panc.any():
        raise CrosspanError(None, "tissue map has no pancreas voxels", "give a map with synth tissue classes")
    z = int(np.argwhere(panc)[:, 0].mean().round())
    tissue = torch.from_numpy(arr)[None, None].expand(n, 1, *arr.shape).contiguous()
    img, proto = draw_images(tissue, torch.Generator().manual_seed(seed))
    img = volume_zscore(img, proto)
    rows = (n + cols - 1) // cols
    aspect = spacing[1] / spacing[2]
    fig = Figure(figsize=(3 * cols, 3 * rows * arr.shape[1] * aspect / arr.shape[2]))
    axes = fig.subplots(rows, cols)
    for i, ax in enumerate(np.asarray(axes).ravel()):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(img[i, 0, z].numpy(), cmap="gray", vmin=-2, vmax=3.5, aspect=aspect)
        ax.contour(panc[z], levels=[0.5], colors="r", linewidths=0.6)
        f = FAMILIES[int(proto["family"][i])]
        extra = f"TE {float(proto['te'][i]):.1f}" if f != "ir" else f"TI {float(proto['ti'][i]):.0f}"
        gd = " Gd" if f in ("t1fs", "gre") and float(proto["r1_cp"][i]) > 0 else ""
        ax.set_title(f"{f}{gd} {float(proto['field'][i]):.1f}T {extra}", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png")
    return buf.getvalue()


def draw_grid(tissue_map: str | Path, n: int = 12, seed: int = 0, output: str | Path | None = None,
              cols: int = 4) -> Path:
    """Render ``n`` random draws of the tissue map file ``tissue_map`` and save the grid as a PNG; returns its
    path (default: beside the map, ``.draws.png``)."""
    arr, props = read_image(tissue_map)
    try:
        data = draw_grid_png(arr, props.spacing, n, seed, cols)
    except CrosspanError as e:
        raise CrosspanError(tissue_map, e.problem, e.fix) from None
    out = Path(output) if output is not None else Path(tissue_map).with_suffix("").with_suffix(".draws.png")
    with atomic_path(out) as tmp:
        Path(tmp).write_bytes(data)
    return out
