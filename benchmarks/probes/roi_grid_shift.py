"""How much the full sliding window itself moves when its tile grid moves: the noise floor of any other tiling.

Usage (CPU, one thread; minutes for a ``tiny`` run and a few dozen plan-grid scans):
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/probes/roi_grid_shift.py RUN COHORT [COHORT ...] -o OUT.json
        [--cases all|test|...]

Each scan (a ``crosspan synth cohort`` folder) is preprocessed with the run's plan and predicted twice with the
full Gaussian window (overlap 0.5): on the whole image, and on the image less half a stride at the low end of each
axis, which moves every tile by half a stride against the anatomy (same network, same overlap, same blend). Both
are scored (Dice after ``lcc``) on the common part against the preprocessed label. The crop pass of ``--roi fast``
differs from the full window by exactly such a grid change, so this says whether the 0.02-per-scan rule of issue
#22 is above or below what the full window's own grid placement moves a scan by.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from roi_fine_pass import cohort_scans  # this folder (the script's own, first on sys.path)

from crosspan.core.dice import dice
from crosspan.inference.pipeline import load_run
from crosspan.inference.postprocess import postprocess
from crosspan.methods.sliding import predict_volume


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("cohorts", type=Path, nargs="+")
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--cases", default="all", help="all, or a split of the manifest (test, val, train)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    run = load_run(args.run)
    patch = list(run.model.patch_size)
    shift = [p // 4 for p in patch]  # half of the 0.5-overlap stride
    rows = []
    common = tuple(slice(s, None) for s in shift)
    for cohort, case_id, pre in cohort_scans(run.plan, args.cohorts, args.cases):
        full = predict_volume(run.method, pre.image, patch)[1][common]
        moved = predict_volume(run.method, np.ascontiguousarray(pre.image[common]), patch)[1]
        label = pre.label[common]
        row = {"cohort": cohort, "case": case_id, "full": _dice(full, label), "shifted": _dice(moved, label),
               "max_abs_p": float(np.abs(full - moved).max())}
        rows.append(row)
        print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    df = pd.DataFrame(rows)
    for cohort, d in df.groupby("cohort"):
        diff = d["shifted"] - d["full"]
        print(f"{cohort}: {len(d)} scans, Dice full {d['full'].mean():.4f}, grid moved {d['shifted'].mean():.4f} "
              f"(mean {diff.mean():+.4f}, worst {diff.min():+.4f}, best {diff.max():+.4f}, |change| > 0.02 on "
              f"{int((diff.abs() > 0.02).sum())})")
    args.output.write_text(json.dumps(rows, indent=1))


def _dice(prob: np.ndarray, label: np.ndarray) -> float:
    return dice(postprocess(prob > 0.5, "lcc", 1.0, 0.0), label, empty=1.0)


if __name__ == "__main__":
    main()
