"""`crosspan ssl pair` cost and quality per pair, for each transport (`--transport local` and `consensus`):
`pair_case` itself (reading both scans, the registrations, the transport, writing the label), timed interleaved
on one thread, with the pseudo-label Dice against the target's true label (read here, for the benchmark only).

    .venv/bin/python benchmarks/speed/ssl_pair_speed.py COHORT [COHORT ...] --pairs 6 [--transports local,consensus]

Every patient with a T1 and a T2/OOP scan gives pairs T1 -> T2 and T1 -> OOP. (The first registration settings,
"v1", 50.5 s a pair, are recorded in benchmarks/results/stress.md; they were retired at commit `7755d1a`.)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from crosspan.core.dice import dice
from crosspan.data.catalog import catalog_from
from crosspan.data.io import read_image
from crosspan.preprocess.pairing.pseudo_labels import TRANSPORTS, pair_case


def one_pair(src: dict, tgt: dict, transport: str, out: str) -> tuple[float, float, float]:
    """(seconds, pseudo-label Dice vs truth, weight)."""
    job = {"case_id": f"{tgt['case_id']}-{transport}", "image": str(tgt["image"]),
           "source": {"case_id": str(src["case_id"]), "image": str(src["image"]), "label": str(src["label"])}}
    t0 = time.perf_counter()
    rec = pair_case(job, out, transport=transport)
    seconds = time.perf_counter() - t0
    truth, _ = read_image(tgt["label"])
    moved, _ = read_image(rec["pseudo_label"])
    return seconds, dice(moved > 0, truth > 0, empty=0.0), float(rec["weight"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cohorts", nargs="+")
    ap.add_argument("--pairs", type=int, default=6, help="pairs per cohort")
    ap.add_argument("--transports", default=",".join(TRANSPORTS), help="comma-separated transports to run")
    args = ap.parse_args()
    chosen = args.transports.split(",")
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    print("| cohort | transport | pairs | s / pair (median) | pseudo-label Dice mean [min] | weight mean |")
    print("|---|---|---|---|---|---|")
    for cohort in args.cohorts:
        cat = catalog_from(cohort, progress=False)
        rows = {(r.patient_id, r.sequence): r._asdict() for r in cat.itertuples()}
        pairs = [(rows[(p, "T1")], rows[(p, s)]) for p, s in sorted(rows) if s != "T1" and (p, "T1") in rows]
        pairs = pairs[: args.pairs]
        res: dict[str, list[tuple[float, float, float]]] = {k: [] for k in chosen}
        with tempfile.TemporaryDirectory() as out:
            for sub in ("labels", "pairs"):
                (Path(out) / sub).mkdir()
            for src, tgt in pairs:  # interleaved: every transport sees the same machine load
                for name in chosen:
                    res[name].append(one_pair(src, tgt, name, out))
        for name, r in res.items():
            a = np.asarray(r)
            print(f"| {Path(cohort).name} | {name} | {len(a)} | {np.median(a[:, 0]):.2f} | {a[:, 1].mean():.3f} "
                  f"[{a[:, 1].min():.3f}] | {a[:, 2].mean():.3f} |", flush=True)


if __name__ == "__main__":
    main()
