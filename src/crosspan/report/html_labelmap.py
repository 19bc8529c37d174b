"""Report section for label-map training (issue #12): a grid of random `physics-rand` training draws for one
anatomy, shown when the results include a method trained on label maps."""

from __future__ import annotations

import html

import pandas as pd

from crosspan.report.html_parts import figures_img, section


def labelmap_section(df: pd.DataFrame, n: int = 12, seed: int = 0) -> str | None:
    """HTML section with the draw grid, or None when no label-map method (the registry's ``training_input``) is
    in ``df``."""
    from crosspan.methods.base import label_map_methods

    present = sorted(set(df["method"].astype(str)) & set(label_map_methods()))
    if not present:
        return None
    from crosspan.report.figures_labelmap import draw_grid_png, synthetic_anatomy

    spacing = (5.0, 2.5, 2.5)
    data = draw_grid_png(synthetic_anatomy(seed, spacing), spacing, n=n, seed=seed)
    what = (f"{html.escape(', '.join(present))} trained on images drawn from tissue label maps. Below: {n} random "
            "physics-rand draws of one synthetic anatomy (axial slice through the pancreas, red outline), "
            "normalized as the network sees them; titles give sequence family (t1fs = fat-sat spoiled GRE, gre = "
            "dual-echo GRE at any TE, haste = single-shot FSE T2, ir = inversion recovery), Gd when contrast was "
            "drawn, field strength and TE or TI (ms).")
    return section("labelmap", "Label-map training draws", what, figures_img(data, "random training draws"))
