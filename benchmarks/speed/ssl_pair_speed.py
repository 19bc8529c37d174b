"""`crosspan ssl pair` cost and quality per pair: the first registration settings ("v1": 30 % of the voxels,
shrink 2/1, 200 iterations) against the current ones (1e4 samples on images binned to ~3 mm, shrink 2/1, 100
iterations), timed interleaved on one thread, with the pseudo-label Dice of each against the target's true label
(read here, for the benchmark only).

    .venv/bin/python benchmarks/speed/ssl_pair_speed.py COHORT [COHORT ...] --pairs 6 [--settings v1,current]

Every patient with a T1 and a T2/OOP scan gives pairs T1 -> T2 and T1 -> OOP; a pair = both registrations
(forward and backward, as `ssl pair` does for its weight) + the label transport.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from crosspan.core.dice import dice
from crosspan.data.catalog import catalog_from
from crosspan.data.io import read_image
from crosspan.preprocess.pairing.registration import Registration, register_rigid, transport_label

SETTINGS = {"v1": {"samples": None, "shrink": (2, 1), "smoothing": (1.0, 0.0), "grid_mm": None, "iterations": 200},
            "current": {}}


def one_pair(src: dict, tgt: dict, kw: dict) -> tuple[float, float, float]:
    """(seconds, pseudo-label Dice vs truth, forward/backward agreement)."""
    t0 = time.perf_counter()
    target, tprops = read_image(tgt["image"], dtype="float32")
    image, sprops = read_image(src["image"], dtype="float32")
    label, lprops = read_image(src["label"])
    fwd = register_rigid(target, tprops, image, sprops, seed=0, **kw)
    bwd = register_rigid(image, sprops, target, tprops, seed=1, **kw)
    moved = transport_label(label, lprops, tprops, fwd)
    back = transport_label(label, lprops, tprops, Registration(bwd.transform.GetInverse(), bwd.metric))
    seconds = time.perf_counter() - t0
    truth, _ = read_image(tgt["label"])
    return seconds, dice(moved, truth, empty=0.0), dice(moved, back, empty=0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cohorts", nargs="+")
    ap.add_argument("--pairs", type=int, default=6, help="pairs per cohort")
    ap.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated names of SETTINGS to run")
    args = ap.parse_args()
    chosen = {k: SETTINGS[k] for k in args.settings.split(",")}
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    print("| cohort | settings | pairs | s / pair (median) | pseudo-label Dice mean [min] | agreement mean |")
    print("|---|---|---|---|---|---|")
    for cohort in args.cohorts:
        cat = catalog_from(cohort, progress=False)
        rows = {(r.patient_id, r.sequence): r._asdict() for r in cat.itertuples()}
        pairs = [(rows[(p, "T1")], rows[(p, s)]) for p, s in sorted(rows) if s != "T1" and (p, "T1") in rows]
        pairs = pairs[: args.pairs]
        res: dict[str, list[tuple[float, float, float]]] = {k: [] for k in chosen}
        for src, tgt in pairs:  # interleaved: both settings see the same machine load
            for name, kw in chosen.items():
                res[name].append(one_pair(src, tgt, kw))
        for name, r in res.items():
            a = np.asarray(r)
            print(f"| {Path(cohort).name} | {name} | {len(a)} | {np.median(a[:, 0]):.1f} | {a[:, 1].mean():.3f} "
                  f"[{a[:, 1].min():.3f}] | {a[:, 2].mean():.3f} |", flush=True)


if __name__ == "__main__":
    main()
