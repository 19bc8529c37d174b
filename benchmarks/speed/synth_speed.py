"""Time `crosspan synth`: one patient's sequences at default size, per center, in one process.

Usage: python benchmarks/speed/synth_speed.py [--patients 3] [--centers A,B,C,D] [--sequences T1,T2,OOP]
Prints a markdown table (seconds per patient: anatomy + rendering of every sequence, NIfTI writing separate),
wall-clock and CPU time of this process (CPU time is what an unloaded core would take; the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from crosspan.data.io import write_image
from crosspan.synth.anatomy import sample_anatomy
from crosspan.synth.cohort import properties
from crosspan.synth.scan import simulate_scan
from crosspan.synth.scanner import load_centers
from crosspan.synth.tissues import patient_arrays


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=3)
    ap.add_argument("--centers", default="A,B,C,D")
    ap.add_argument("--sequences", default="T1,T2,OOP")
    ap.add_argument("--size", default="default")
    args = ap.parse_args()
    centers = load_centers()
    seqs = args.sequences.split(",")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; size {args.size}")
    print("| center | shapes (z, y, x) | render s/patient (wall / CPU) | +write s/patient (wall / CPU) |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for c in args.centers.split(","):
            t_render, t_write, c_render, c_write, shapes = [], [], [], [], []
            for i in range(args.patients):
                t0, c0 = time.perf_counter(), time.process_time()
                a = sample_anatomy(np.random.default_rng(i))
                p = patient_arrays(centers[c]["field"], np.random.default_rng(i), a["age"])
                out = [simulate_scan(a, p, centers[c], s, np.random.default_rng(i), size=args.size) for s in seqs]
                t1, c1 = time.perf_counter(), time.process_time()
                for k, (img, tis, rec) in enumerate(out):
                    write_image(img, properties(rec), Path(tmp) / f"{c}_{i}_{k}.nii.gz")
                    write_image((tis == 16).astype(np.uint8), properties(rec), Path(tmp) / f"{c}_{i}_{k}_l.nii.gz")
                t2, c2 = time.perf_counter(), time.process_time()
                t_render.append(t1 - t0)
                t_write.append(t2 - t0)
                c_render.append(c1 - c0)
                c_write.append(c2 - c0)
                shapes = [img.shape for img, _, _ in out]
            row = [c, ", ".join(str(s) for s in shapes), f"{np.median(t_render):.2f} / {np.median(c_render):.2f}",
                   f"{np.median(t_write):.2f} / {np.median(c_write):.2f}"]
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
