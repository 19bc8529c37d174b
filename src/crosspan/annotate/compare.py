"""Agreement between two annotators' masks, per case, with the project's metrics, and the adjudication list."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from crosspan.data.errors import CrosspanError
from crosspan.data.io import read_image
from crosspan.evaluation.metrics import compute_metrics


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa over voxels of two binary masks (1 when both agree perfectly, including both empty)."""
    a, b = a.astype(bool).ravel(), b.astype(bool).ravel()
    n = a.size
    po = float(np.count_nonzero(a == b)) / n
    pa, pb = a.mean(), b.mean()
    pe = float(pa * pb + (1 - pa) * (1 - pb))
    return 1.0 if pe >= 1.0 else (po - pe) / (1.0 - pe)


def _mask(folder: Path, code: str) -> Path | None:
    for suffix in (".nii.gz", ".nii", ".nrrd", ".mha"):
        p = folder / f"{code}{suffix}"
        if p.exists():
            return p
    return None


def compare_annotations(dir_a: Path, dir_b: Path, key: pd.DataFrame | None = None, dice_below: float = 0.8,
                        hd95_above: float = 10.0, tolerance_mm: float = 2.0) -> pd.DataFrame:
    """One row per case present in both folders: Dice, HD95, NSD, volume difference, kappa, ``adjudicate``."""
    codes_a = {p.name.split(".")[0] for p in Path(dir_a).iterdir() if p.is_file()}
    codes_b = {p.name.split(".")[0] for p in Path(dir_b).iterdir() if p.is_file()}
    common = sorted(codes_a & codes_b)
    if not common:
        raise CrosspanError(dir_b, f"no mask in common with {dir_a}",
                            "compare the two annotators of the same cases (masks named <code>.nii.gz)")
    info = key.set_index("code") if key is not None and "code" in key.columns else None
    rows = []
    for code in common:
        pa, pb = _mask(Path(dir_a), code), _mask(Path(dir_b), code)
        a, props_a = read_image(pa)
        b, props_b = read_image(pb)
        if a.shape != b.shape:
            raise CrosspanError(pb, f"mask shape {b.shape} differs from {pa} {a.shape}",
                                "both annotators must draw on the same image grid")
        m = compute_metrics(b > 0, a > 0, props_a.spacing, tolerance_mm=tolerance_mm)
        row = {"code": code, "dice": m["dice"], "hd95": m["hd95"], "nsd": m["nsd"],
               "volume_a_ml": m["gt_ml"], "volume_b_ml": m["pred_ml"], "volume_diff_ml": m["pred_ml"] - m["gt_ml"],
               "kappa": cohen_kappa(a > 0, b > 0)}
        row["adjudicate"] = bool(row["dice"] < dice_below or row["hd95"] > hd95_above)
        if info is not None and code in info.index:
            for col in ("case_id", "patient_id", "center", "sequence"):
                row[col] = info.loc[code, col]
        rows.append(row)
    return pd.DataFrame(rows)


def agreement_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean agreement and the number of cases to adjudicate by center and sequence (when known)."""
    keys = [c for c in ("center", "sequence") if c in table.columns]
    group = table.groupby(keys) if keys else table.assign(all="all").groupby("all")
    return group.agg(cases=("code", "size"), dice_mean=("dice", "mean"), hd95_median=("hd95", "median"),
                     kappa_mean=("kappa", "mean"), adjudicate=("adjudicate", "sum")).round(4).reset_index()
