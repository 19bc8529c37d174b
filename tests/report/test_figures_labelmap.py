"""draw_grid writes a PNG of random draws for a tissue map, and refuses a map without pancreas."""

from __future__ import annotations

import numpy as np
import pytest

from crosspan.core.errors import CrosspanError
from crosspan.data.io import ImageProperties, write_image
from crosspan.report.figures_labelmap import draw_grid
from crosspan.synth.tissues import Tissue


def test_draw_grid_png_and_no_pancreas_error(tmp_path) -> None:
    t = np.full((8, 24, 24), int(Tissue.VISCERAL_FAT), dtype=np.uint8)
    t[:, 8:16, 8:16] = Tissue.PANCREAS
    props = ImageProperties((8, 24, 24), (3.0, 1.5, 1.5), (0.0, 0.0, 0.0), tuple(np.eye(3).ravel()))
    write_image(t, props, tmp_path / "t.nii.gz")
    out = draw_grid(tmp_path / "t.nii.gz", n=4, seed=0, output=tmp_path / "g.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    write_image(np.zeros_like(t), props, tmp_path / "e.nii.gz")
    with pytest.raises(CrosspanError, match="pancreas"):
        draw_grid(tmp_path / "e.nii.gz", n=2)


def test_report_section_shows_draws_only_for_label_map_methods() -> None:
    import pandas as pd

    from crosspan.report.html_labelmap import labelmap_section

    assert labelmap_section(pd.DataFrame({"method": ["erm", "gin"]})) is None
    sec = labelmap_section(pd.DataFrame({"method": ["erm", "physics-rand"]}), n=4)
    assert sec is not None and 'id="labelmap"' in sec and "data:image/png;base64," in sec and "physics-rand" in sec
