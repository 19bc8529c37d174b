"""A grid of random physics-rand training draws for one anatomy (the figure of issue #12)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from crosspan.data.errors import CrosspanError
from crosspan.data.io import read_image
from crosspan.methods.labelmap.draws import FAMILIES, draw_images, volume_zscore
from crosspan.synth.tissues import Tissue
from crosspan.utils.atomic import atomic_path


def draw_grid(tissue_map: str | Path, n: int = 12, seed: int = 0, output: str | Path | None = None,
              cols: int = 4) -> Path:
    """Render ``n`` random draws of the tissue map file ``tissue_map`` (classes of ``synth.tissues.Tissue``) and
    save the axial slice through the pancreas centre of each, pancreas outlined, as a PNG; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arr, props = read_image(tissue_map)
    arr = np.rint(arr).astype(np.int64)
    panc = arr == Tissue.PANCREAS
    if not panc.any():
        raise CrosspanError(tissue_map, "tissue map has no pancreas voxels", "give a map with synth tissue classes")
    z = int(np.argwhere(panc)[:, 0].mean().round())
    tissue = torch.from_numpy(arr)[None, None].expand(n, 1, *arr.shape).contiguous()
    img, proto = draw_images(tissue, torch.Generator().manual_seed(seed))
    img = volume_zscore(img, proto)
    rows = (n + cols - 1) // cols
    aspect = props.spacing[1] / props.spacing[2]
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows * arr.shape[1] * aspect / arr.shape[2]))
    for i, ax in enumerate(np.asarray(axes).ravel()):
        ax.axis("off")
        if i >= n:
            continue
        sl = img[i, 0, z].numpy()
        ax.imshow(sl, cmap="gray", vmin=-2, vmax=3.5, aspect=aspect)
        ax.contour(panc[z], levels=[0.5], colors="r", linewidths=0.6)
        f = FAMILIES[int(proto["family"][i])]
        extra = f"TE {float(proto['te'][i]):.1f}" if f != "ir" else f"TI {float(proto['ti'][i]):.0f}"
        gd = " Gd" if f in ("t1fs", "gre") and float(proto["r1_cp"][i]) > 0 else ""
        ax.set_title(f"{f}{gd} {float(proto['field'][i]):.1f}T {extra}", fontsize=8)
    fig.tight_layout()
    out = Path(output) if output is not None else Path(tissue_map).with_suffix("").with_suffix(".draws.png")
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return out
