"""``crosspan predict --roi auto`` vs the full window on synthetic scans: Dice per scan, tiles, seconds.

Usage (CPU, a few minutes; every step is a crosspan command):
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/probes/roi_accuracy_synth.py -o /tmp/roisynth [--steps 500]
        [--patients 10] [--stress 4]

Trains a ``tiny`` ERM model (``--steps``) on a small default-profile cohort (centers A, B; T1; ``--shape small``),
then predicts its test scans and every scan of a small ``--profile stress`` cohort with ``--roi none`` (the full
window), ``--roi auto`` and ``--roi aligned``, and writes ``result.json`` (Dice of each mask against its label,
the tile report of ``roi.json``, wall seconds of each predict command) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crosspan.core.dice import dice
from crosspan.data.io import read_image

CROSSPAN = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "crosspan")


def sh(*args: str) -> float:
    """Run one crosspan command (``--threads 1`` where it takes it); its wall seconds."""
    t = time.perf_counter()
    subprocess.run([CROSSPAN, *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def scores(cohort: Path, pred: Path) -> dict[str, float]:
    man = pd.read_csv(cohort / "manifest.csv")
    out = {}
    for p in sorted(pred.glob("*.nii.gz")):
        row = man[man["case_id"] == p.name[: -len(".nii.gz")]].iloc[0]
        label = Path(row["label"]) if Path(row["label"]).is_absolute() else cohort / row["label"]
        out[row["case_id"]] = dice(read_image(p)[0], read_image(label)[0], empty=1.0)
    return out


def report(res: dict[str, Any], cohort: str, roi: str, tiles: dict[str, Any]) -> None:
    """Print one mode's Dice against the full window's and its tiles; keep the tile report in ``res``."""
    res[f"{cohort}_{roi}_tiles"] = tiles
    full, got = res[f"{cohort}_none_dice"], res[f"{cohort}_{roi}_dice"]
    diff = [got[c] - full[c] for c in full]
    print(f"{cohort} --roi {roi}: {len(full)} scans, Dice full {np.mean(list(full.values())):.4f} roi "
          f"{np.mean(list(got.values())):.4f} (worst scan {min(diff):+.4f}, best {max(diff):+.4f}); tiles "
          f"{sum(t['tiles'] for t in tiles.values())} vs {sum(t['tiles_full_window'] for t in tiles.values())}; "
          f"predict {res[f'{cohort}_none_s']:.1f} s vs {res[f'{cohort}_{roi}_s']:.1f} s")
    for c in full:
        print(f"  {c}: {full[c]:.4f} -> {got[c]:.4f}  {tiles[c]['tiles_coarse']} coarse + "
              f"{tiles[c]['tiles_fine']} fine / {tiles[c]['tiles_full_window']}  {tiles[c]['fallback']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--patients", type=int, default=10)
    ap.add_argument("--stress", type=int, default=4)
    args = ap.parse_args()
    w = args.output
    w.mkdir(parents=True, exist_ok=True)
    common = ["--sequences", "T1", "--shape", "small", "--workers", "1"]
    sh("synth", "cohort", str(w / "default"), "-n", str(args.patients), "--centers", "A,B", "--seed", "5", *common)
    sh("synth", "cohort", str(w / "stress"), "-n", str(args.stress), "--profile", "stress", "--seed", "6", *common)
    sh("preprocess", str(w / "default"), "-o", str(w / "plan"), "--train-domains", "A:T1,B:T1")
    res: dict[str, Any] = {"steps": args.steps, "train_s": sh("train", str(w / "plan"), "-o", str(w / "run"),
                                                              "--steps", str(args.steps), "--threads", "1",
                                                              "--seed", "1", "--ckpt-every", "100000")}
    for cohort, cases in (("default", "test"), ("stress", "all")):
        for roi in ("none", "auto", "aligned"):
            out = w / f"pred_{cohort}_{roi}"
            res[f"{cohort}_{roi}_s"] = sh("predict", str(w / "run"), str(w / cohort), "-o", str(out), "--cases",
                                          cases, "--roi", roi, "--threads", "1")
            res[f"{cohort}_{roi}_dice"] = scores(w / cohort, out)
        for roi in ("auto", "aligned"):
            report(res, cohort, roi, json.loads((w / f"pred_{cohort}_{roi}" / "roi.json").read_text()))
    (w / "result.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
