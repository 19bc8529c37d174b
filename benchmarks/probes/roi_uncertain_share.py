"""Does a cheap statistic predict how far ``--roi fast``'s crop pass moves a scan's Dice? (issue #22)

Usage (CPU, one thread; ~10 s a default-size scan with a ``tiny`` run):
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/probes/roi_uncertain_share.py RUN COHORT [COHORT ...] -o OUT.csv
        [--zoom 2]

Each scan of each cohort (a ``crosspan synth cohort`` folder) is preprocessed with the run's plan and predicted with
the full window and with the crop pass forced and unguarded (``predict_volume_roi(fine="crop",
max_uncertain=inf)``). Per scan: Dice after ``lcc`` of both against the preprocessed label, their masks' Dice, the
crop pass's uncertain share at two band widths (:func:`crosspan.inference.roi.uncertain_share`) and the largest
probability difference; the correlation of the share with |Dice change| is printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from crosspan.core.dice import dice
from crosspan.data.io import read_sitk
from crosspan.inference.pipeline import load_run
from crosspan.inference.postprocess import postprocess
from crosspan.inference.roi import predict_volume_roi, uncertain_share
from crosspan.methods.sliding import predict_volume
from crosspan.preprocess.cache import preprocess_image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("cohorts", type=Path, nargs="+")
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--zoom", type=float, default=2.0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    run = load_run(args.run)
    patch = list(run.model.patch_size)
    rows = []
    for cohort in args.cohorts:
        for _, r in pd.read_csv(cohort / "manifest.csv").iterrows():
            pre = preprocess_image(read_sitk(str(cohort / r["image"])), run.plan, read_sitk(str(cohort / r["label"])),
                                   str(cohort / r["label"]))
            full = predict_volume(run.method, pre.image, patch)
            crop, _ = predict_volume_roi(run.method, pre.image, patch, coarse_zoom=args.zoom, fine="crop",
                                         max_uncertain=float("inf"))
            mf, mc = (postprocess(p[1] > 0.5, "lcc", 1.0, 0.0) for p in (full, crop))
            rows.append({"cohort": cohort.name, "case": r["case_id"], "d_full": dice(mf, pre.label, empty=1.0),
                         "d_crop": dice(mc, pre.label, empty=1.0), "d_masks": dice(mf, mc, empty=1.0),
                         "uncertain_02": uncertain_share(crop[1], 0.2), "uncertain_01": uncertain_share(crop[1], 0.1),
                         "max_absdiff": float(np.abs(full[1] - crop[1]).max())})
            print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    change = (df["d_crop"] - df["d_full"]).abs()
    for col in ("uncertain_02", "uncertain_01", "max_absdiff"):
        print(f"correlation of {col} with |Dice change|: {np.corrcoef(df[col], change)[0, 1]:.2f}")
    df.to_csv(args.output, index=False)


if __name__ == "__main__":
    main()
