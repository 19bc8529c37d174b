"""How far the normalization of a drawn training patch is from what the preprocessing gives the same voxels of the
whole volume: per-patch z-scoring (`zscore_body`) vs the whole-volume statistics of `volume_zscore`, both against
`body_mask` + `zscore` on the full drawn volume (mean absolute difference inside the body, z-units).

    .venv/bin/python benchmarks/probes/labelmap_norm_check.py /tmp/lm/plan_label-maps/cache/A_0002_T1_tissue.npy
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from crosspan.methods.labelmap.draws import draw_images, volume_zscore, zscore_body
from crosspan.preprocess.normalize import body_mask, zscore


def main(path: str, n: int = 16, crops: int = 4, patch: tuple[int, int, int] = (32, 48, 48)) -> None:
    torch.set_num_threads(1)
    tis = np.load(path)
    tis = tis.reshape(tis.shape[-3:]).astype(np.int64)
    t = torch.from_numpy(tis)[None, None].expand(n, 1, *tis.shape).contiguous()
    x, proto = draw_images(t, torch.Generator().manual_seed(5))
    v = volume_zscore(x, proto)
    g = np.random.default_rng(0)
    per_patch, whole = [], []
    for i in range(n):
        raw = x[i, 0].numpy()
        ref = zscore(raw, body_mask(raw))
        for _ in range(crops):
            sl = tuple(slice(a, a + p) for a, p in
                       zip((g.integers(0, s - p + 1) for s, p in zip(tis.shape, patch, strict=True)), patch,
                           strict=True))
            crop, tc = x[i:i + 1, :, sl[0], sl[1], sl[2]], t[i:i + 1, :, sl[0], sl[1], sl[2]]
            body = tc[0, 0].numpy() > 0
            per_patch.append(np.abs(zscore_body(crop, tc > 0)[0, 0].numpy() - ref[sl])[body].mean())
            whole.append(np.abs(v[i, 0].numpy()[sl] - ref[sl])[body].mean())
    for name, d in (("per-patch z-score", per_patch), ("volume_zscore", whole)):
        print(f"{name}: mean {np.mean(d):.2f}, p90 {np.percentile(d, 90):.2f}, max {np.max(d):.2f} "
              f"(z-units, {len(d)} crops of {n} draws)")


if __name__ == "__main__":
    main(sys.argv[1])
