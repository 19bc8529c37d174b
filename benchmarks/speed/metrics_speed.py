"""Time crosspan's one-pass metrics against MONAI computing the same metrics on the same masks.

Masks: 80 x 256 x 256 (z, y, x) at 3.0 x 1.4 x 1.4 mm, a lumpy pancreas-sized ground truth (~60-90 ml) and a
perturbed prediction (shift, dilation or erosion, a spurious blob). Both sides start from boolean numpy arrays
and return Dice, IoU, precision, recall, HD95, ASSD and NSD at 2 mm. MONAI: DiceMetric, MeanIoU,
ConfusionMatrixMetric (precision, recall), HausdorffDistanceMetric(percentile=95), SurfaceDistanceMetric
(symmetric) and SurfaceDiceMetric(use_subvoxels=True), on one-hot (1, 2, z, y, x) tensors, one thread each.

    .venv/bin/python benchmarks/speed/metrics_speed.py --cases 8 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np
from scipy import ndimage

SHAPE = (80, 256, 256)
SPACING = (3.0, 1.4, 1.4)


def pancreas_pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A lumpy elongated blob (head, body, tail) and a perturbed copy."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.indices(SHAPE, dtype=np.float32)
    gt = np.zeros(SHAPE, bool)
    c0 = np.array([40, 128, 100]) + rng.integers(-5, 6, 3)
    for t in np.linspace(0, 1, 6):  # a chain of ellipsoids along x and y
        c = c0 + np.array([rng.normal(0, 1.5), 25 * t * np.sin(2 * t), 70 * t])
        r = np.array([rng.uniform(3.0, 4.5), rng.uniform(9, 14), rng.uniform(10, 16)]) * (1.2 - 0.5 * t)
        gt |= ((zz - c[0]) / r[0]) ** 2 + ((yy - c[1]) / r[1]) ** 2 + ((xx - c[2]) / r[2]) ** 2 < 1
    pred = np.roll(gt, tuple(rng.integers(-2, 3, 3)), axis=(0, 1, 2))
    pred = [ndimage.binary_dilation, ndimage.binary_erosion, lambda m: m][seed % 3](pred)
    if seed % 2:  # a spurious false-positive blob
        c = np.array([40, 60, 200]) + rng.integers(-5, 6, 3)
        pred |= ((zz - c[0]) / 2.5) ** 2 + ((yy - c[1]) / 6) ** 2 + ((xx - c[2]) / 6) ** 2 < 1
    return pred, gt


def ours(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    from crosspan.evaluation.metrics import compute_metrics

    m = compute_metrics(pred, gt, SPACING, tolerance_mm=2.0)
    return {k: m[k] for k in ("dice", "iou", "precision", "recall", "hd95", "assd", "nsd")}


def monai_all(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    import torch
    from monai import metrics as mm

    def onehot(m: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(m)
        return torch.stack([~t, t])[None].float()

    p, g = onehot(pred), onehot(gt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cm = mm.ConfusionMatrixMetric(include_background=False, metric_name=["precision", "recall"])
        cm(p, g)
        prec, rec = cm.aggregate()
        return {
            "dice": float(mm.DiceMetric(include_background=False)(p, g)),
            "iou": float(mm.MeanIoU(include_background=False)(p, g)),
            "precision": float(prec), "recall": float(rec),
            "hd95": float(mm.HausdorffDistanceMetric(percentile=95)(p, g, spacing=SPACING)),
            "assd": float(mm.SurfaceDistanceMetric(symmetric=True)(p, g, spacing=SPACING)),
            "nsd": float(mm.SurfaceDiceMetric([2.0], use_subvoxels=True)(p, g, spacing=SPACING)),
        }


def deepmind_all(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """The reference package (test-only dependency): surface metrics and Dice."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import surface_distance as sd

        d = sd.compute_surface_distances(gt, pred, SPACING)
        a, b = sd.compute_average_surface_distance(d)
        return {"dice": sd.compute_dice_coefficient(gt, pred), "hd95": sd.compute_robust_hausdorff(d, 95),
                "assd": (a + b) / 2, "nsd": sd.compute_surface_dice_at_tolerance(d, 2.0)}


def timed(fns: dict, pairs: list[tuple[np.ndarray, np.ndarray]], repeats: int) -> tuple[dict, dict]:
    """Per function: sum over pairs of the best-of-``repeats`` seconds, and the results. Functions alternate case
    by case, so that load from other processes hits them alike."""
    best = {k: [float("inf")] * len(pairs) for k in fns}
    res: dict[str, list] = {k: [None] * len(pairs) for k in fns}
    for _ in range(repeats):
        for i, (p, g) in enumerate(pairs):
            for k, fn in fns.items():
                t0 = time.perf_counter()
                res[k][i] = fn(p, g)
                best[k][i] = min(best[k][i], time.perf_counter() - t0)
    return {k: sum(v) for k, v in best.items()}, res


def evaluate_throughput(n: int, workers: int) -> float:
    """Seconds per case of ``evaluate_predictions`` on ``n`` NIfTI pairs (reading included)."""
    import tempfile
    from pathlib import Path

    import pandas as pd

    from crosspan.data.io import ImageProperties, write_image
    from crosspan.evaluation.evaluate import evaluate_predictions

    props = ImageProperties(SHAPE, SPACING, (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for i in range(n):
            pred, gt = pancreas_pair(i)
            write_image(gt.astype(np.uint8), props, Path(tmp) / "labels" / f"c{i}.nii.gz")
            write_image(pred.astype(np.uint8), props, Path(tmp) / "pred" / f"c{i}.nii.gz")
            rows.append({"case_id": f"c{i}", "patient_id": f"p{i}", "center": "A", "sequence": "T1",
                         "split": "test", "image": "", "label": str(Path(tmp) / "labels" / f"c{i}.nii.gz")})
        t0 = time.perf_counter()
        evaluate_predictions(pd.DataFrame(rows), Path(tmp) / "pred", "bench", workers=workers, progress=False)
        return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--evaluate", type=int, default=0, help="Also time `evaluate_predictions` on N NIfTI cases.")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    pairs = [pancreas_pair(s) for s in range(args.cases)]
    vol = np.mean([g.sum() * np.prod(SPACING) / 1000 for _, g in pairs])
    ours(*pairs[0])  # warm-up (imports, table cache)
    monai_all(*pairs[0])
    t, r = timed({"ours": ours, "monai": monai_all, "deepmind": deepmind_all}, pairs, args.repeats)
    n = len(pairs)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads 1")
    print(f"masks: {n} pairs of {SHAPE} at {SPACING} mm, mean ground truth {vol:.1f} ml, best of {args.repeats}")
    print(f"crosspan: {1000 * t['ours'] / n:.1f} ms/case")
    print(f"MONAI:    {1000 * t['monai'] / n:.1f} ms/case")
    print(f"speed-up: {t['monai'] / t['ours']:.1f}x")
    r_ours, r_monai, r_dm = r["ours"], r["monai"], r["deepmind"]
    print(f"surface-distance package (Dice, HD95, ASSD, NSD only): {1000 * t['deepmind'] / n:.1f} ms/case; max "
          f"|crosspan - package| = {max(abs(a[k] - b[k]) for a, b in zip(r_ours, r_dm, strict=True) for k in b):.1e}")
    print("mean |crosspan - MONAI| per metric (MONAI HD95/ASSD use edge voxels, not surfels):")
    for k in r_ours[0]:
        d = np.mean([abs(a[k] - b[k]) for a, b in zip(r_ours, r_monai, strict=True)])
        print(f"  {k:9s} {d:.2e}  (crosspan mean {np.mean([a[k] for a in r_ours]):.4f})")
    for workers in (1, 2) if args.evaluate else ():
        sec = evaluate_throughput(args.evaluate, workers)
        print(f"evaluate_predictions, {args.evaluate} NIfTI cases, {workers} worker(s): {1000 * sec:.0f} ms/case")


if __name__ == "__main__":
    main()
