"""How many of the full window's tiles any exact ``--roi auto`` must evaluate on a volume, from geometry alone.

Usage (no network, seconds):
    .venv/bin/python benchmarks/probes/roi_tile_budget.py [--patch 32,64,64] [--eps 0.01,0.05]

For each volume shape and pancreas box (fractions of the volume; the speed benchmark's ``PANCREAS_BOX``, one
scan's box, and both at twice the in-plane field of view with the gland the same size in voxels), grown by the
margin ``--roi auto`` grows a region by (a quarter patch; also none), it prints: the full window's tiles, the
coarse pass's (``TileWindow.cover``), the tiles touching the region, ``--roi auto``'s total (cover + touching), and
the fewest tiles (greedy) that keep every region voxel within ``eps`` of the full window's probability whatever the
left-out tiles predict: leaving out tiles of Gaussian weight w_o of a voxel's total W moves its blend by at most
w_o / W, so a tile may go only where its share of every region voxel (with the other left-out tiles') stays below
``eps``. Network time is proportional to tiles (96-98 % of ``predict`` on the ``nnunet`` preset, docs/engine.md).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch

from crosspan.inference.tiles import TileWindow

#: the speed benchmark's box (benchmarks/speed/engine_vs_nnunet_train_predict.py) and one scan's (A_0001_T1 of
#: ``crosspan synth cohort``, default size, label extent as fractions of z, y, x)
BOXES: dict[str, tuple[tuple[float, float], ...]] = {"speed-benchmark box": ((0.26, 0.70), (0.31, 0.59), (0.29, 0.73)),
         "one scan's box": ((0.36, 0.64), (0.35, 0.54), (0.36, 0.71))}
SHAPES = {"default size": (57, 126, 163), "2x in-plane FOV": (57, 252, 326)}


def budget(shape: tuple[int, ...], frac: tuple[tuple[float, float], ...], patch: list[int], margin: list[int],
           eps_values: list[float]) -> dict[str, int]:
    no_network: Any = None  # the window's geometry only: no tile is evaluated
    win = TileWindow(no_network, torch.zeros((1, 1, *shape)), patch, 0.5, torch.contiguous_format, 1)
    box = [(max(0, int(a * n) - m), min(n, int(np.ceil(b * n)) + m)) for (a, b), n, m in zip(frac, shape, margin,
                                                                                               strict=True)]
    total = np.zeros(win.x.shape[2:])
    weight = win.weight[0, 0].numpy()
    for s in win.slices:
        total[s] += weight
    region = np.zeros(total.shape, bool)
    region[tuple(slice(lo + o, hi + o) for (lo, hi), o in zip(box, win.pad_lo, strict=True))] = True
    cover, touching = win.cover(), win.touching([box])
    out = {"full window": len(win.slices), "coarse (cover)": len(cover), "touching": len(touching),
           "--roi auto": len(set(cover) | set(touching))}
    for eps in eps_values:
        candidates = [i for i in touching if i not in cover]
        left_out = np.zeros(total.shape)
        for i in candidates:
            left_out[win.slices[i]] += weight / total[win.slices[i]]
        chosen: list[int] = []
        while (left_out * region).max() > eps:
            bad = (left_out > eps) & region
            best = max((i for i in candidates if i not in chosen),
                       key=lambda i: float((weight / total[win.slices[i]] * bad[win.slices[i]]).sum()))
            chosen.append(best)
            left_out[win.slices[best]] -= weight / total[win.slices[best]]
        out[f"within {eps}"] = len(cover) + len(chosen)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patch", default="32,64,64")
    ap.add_argument("--eps", default="0.01,0.05")
    args = ap.parse_args()
    patch = [int(v) for v in args.patch.split(",")]
    eps_values = [float(v) for v in args.eps.split(",")]
    for shape_name, shape in SHAPES.items():
        for box_name, frac in BOXES.items():
            if shape_name != "default size":  # the same gland in voxels: fractions halved in y and x
                frac = (frac[0], *(((a - 0.5) / 2 + 0.5, (b - 0.5) / 2 + 0.5) for a, b in frac[1:]))
            for margin_name, margin in (("quarter-patch margin", [p // 4 for p in patch]), ("no margin", [0] * 3)):
                row = budget(shape, frac, patch, margin, eps_values)
                print(f"{shape_name} {shape}, {box_name}, {margin_name}: "
                      + ", ".join(f"{k} {v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
