"""Time `crosspan data check` on N small scans (default 500) in the CrossPan release layout.

    .venv/bin/python benchmarks/speed/data_check_speed.py --scans 500 --shape 24,64,64

Writes the figures to stdout (and benchmarks/results/data.md with --record).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from crosspan.data.io import ImageProperties, write_image


def build(root: Path, scans: int, shape: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(0)
    p = ImageProperties(shape=shape, spacing=(3.0, 1.5, 1.5), origin=(0, 0, 0), direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))
    seqs = ("T1", "T2", "OOP")
    for i in range(scans):
        seq = seqs[i % 3]
        case = f"{'ABCD'[i // 3 % 4]}_{i // 3:04d}"
        img = rng.normal(100, 20, size=shape).astype(np.float32)
        lbl = np.zeros(shape, np.uint8)
        lbl[shape[0] // 3: shape[0] // 2, 20:40, 20:40] = 1
        write_image(img, p, root / seq / "train" / "images" / f"{case}_0000.nii.gz")
        write_image(lbl, p, root / seq / "train" / "labels" / f"{case}.nii.gz")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scans", type=int, default=500)
    ap.add_argument("--shape", default="24,64,64")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        build(root, args.scans, shape)
        exe = Path(sys.executable).with_name("crosspan")
        t0 = time.perf_counter()
        res = subprocess.run([str(exe), "data", "check", str(root)], capture_output=True, text=True)
        secs = time.perf_counter() - t0
    line = (f"| {dt.date.today()} | {args.scans} scans of {'x'.join(map(str, shape))} (image + label, .nii.gz) | "
            f"{secs:.1f} s | exit {res.returncode} | {os.cpu_count()} cores, {platform.processor() or 'cpu'} |")
    print(line)
    if args.record:
        out = Path(__file__).parents[1] / "results" / "data.md"
        if not out.exists():
            out.write_text("| date | input | `crosspan data check` wall time | result | machine |\n"
                           "|---|---|---|---|---|\n")
        with out.open("a") as fh:
            fh.write(line + "\n")


if __name__ == "__main__":
    main()
