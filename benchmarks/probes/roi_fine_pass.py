"""``--roi auto``'s two fine passes forced, against the full window, on a trained run and synthetic cohorts.

Usage (CPU, one thread; a few minutes for 8 default-size scans and a ``tiny`` run):
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/probes/roi_fine_pass.py RUN COHORT [COHORT ...] -o OUT.json
        [--zoom 1] [--cases all|test|...] [--fine auto,exact,crop] [--threshold 0.1]
        [--max-uncertain 0.5]

Each scan of each cohort (a ``crosspan synth cohort`` folder) is preprocessed with the run's plan and predicted with
the full window and with ``predict_volume_roi`` with ``fine`` = ``auto`` (what ``--roi auto`` does), ``exact`` and
``crop`` (module doc of ``crosspan.inference.roi``, step 3). Dice after ``lcc`` against the preprocessed label, in
the preprocessed grid (``tests/inference/test_roi.py`` scores the same way), and tiles, go to ``OUT.json``; a
table is printed.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from crosspan.core.dice import dice
from crosspan.data.io import read_sitk
from crosspan.inference.pipeline import load_run
from crosspan.inference.postprocess import postprocess
from crosspan.inference.roi import predict_volume_roi
from crosspan.methods.sliding import predict_volume
from crosspan.preprocess.cache import Preprocessed, preprocess_image
from crosspan.preprocess.plan import Plan

FINE = ("auto", "exact", "crop")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("cohorts", type=Path, nargs="+")
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--zoom", type=float, default=1.0)
    ap.add_argument("--cases", default="all", help="all, or a split of the manifest (test, val, train)")
    ap.add_argument("--fine", default=",".join(FINE), help="the fine passes to run, comma-separated")
    ap.add_argument("--threshold", type=float, default=0.1, help="coarse foreground probability threshold")
    ap.add_argument("--max-uncertain", type=float, default=0.5,
                    help="the crop pass guard (inf: never redo exactly)")
    args = ap.parse_args()
    fines = [f for f in args.fine.split(",") if f]
    torch.set_num_threads(1)
    run = load_run(args.run)
    patch = list(run.model.patch_size)
    rows = []
    for cohort, case_id, pre in cohort_scans(run.plan, args.cohorts, args.cases):
        row = {"cohort": cohort, "case": case_id,
               "full": _dice(predict_volume(run.method, pre.image, patch), pre.label)}
        for fine in fines:
            prob, rep = predict_volume_roi(run.method, pre.image, patch, coarse_zoom=args.zoom, fine=fine,
                                           threshold=args.threshold, max_uncertain=args.max_uncertain)
            row[fine], row[f"{fine}_tiles"], row["full_tiles"] = _dice(prob, pre.label), rep.tiles, \
                rep.tiles_full_window
            row[f"{fine}_note"] = rep.fallback or ("crop" if rep.crop else "exact")
            row[f"{fine}_uncertain"] = -1.0 if rep.uncertain is None else rep.uncertain
        rows.append(row)
        print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    df = pd.DataFrame(rows)
    for cohort, d in df.groupby("cohort"):
        for fine in fines:
            diff = d[fine] - d["full"]
            print(f"{cohort} fine={fine} zoom {args.zoom}: {len(d)} scans, Dice full {d['full'].mean():.4f} "
                  f"roi {d[fine].mean():.4f} (mean {diff.mean():+.4f}, worst {diff.min():+.4f}, best "
                  f"{diff.max():+.4f}); tiles {d[f'{fine}_tiles'].sum()} / {d['full_tiles'].sum()}")
    args.output.write_text(json.dumps(rows, indent=1))


def cohort_scans(plan: Plan, cohorts: list[Path], cases: str = "all") -> Iterator[tuple[str, str, Preprocessed]]:
    """(cohort name, case id, the scan and its label preprocessed with ``plan``) for each scan of each ``crosspan
    synth cohort`` folder (``cases``: all, or a manifest split)."""
    for cohort in cohorts:
        man = pd.read_csv(cohort / "manifest.csv")
        man = man if cases == "all" else man[man["split"] == cases]
        for _, r in man.iterrows():
            label = str(cohort / r["label"])
            yield cohort.name, str(r["case_id"]), preprocess_image(read_sitk(str(cohort / r["image"])), plan,
                                                                   read_sitk(label), label)


def _dice(prob: np.ndarray, label: np.ndarray) -> float:
    return dice(postprocess(prob[1] > 0.5, "lcc", 1.0, 0.0), label, empty=1.0)


if __name__ == "__main__":
    main()
