"""Agreement between annotators' masks, per case, with the project's metrics, and the adjudication list.

Two forms: two mask folders (:func:`compare_annotations`), or a whole assignment folder
(:func:`compare_assignment`), which pairs each case's two masks through ``key.csv`` and lists missing masks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crosspan.annotate.key import annotator_mask, annotators_of, find_mask, load_key
from crosspan.annotate.masks import read_mask
from crosspan.core.errors import CrosspanError
from crosspan.evaluation.metrics import compute_metrics

INFO_COLUMNS = ("case_id", "patient_id", "center", "sequence")


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa over voxels of two binary masks (1 when both agree perfectly, including both empty)."""
    a, b = a.astype(bool).ravel(), b.astype(bool).ravel()
    n = a.size
    po = float(np.count_nonzero(a == b)) / n
    pa, pb = a.mean(), b.mean()
    pe = float(pa * pb + (1 - pa) * (1 - pb))
    return 1.0 if pe >= 1.0 else (po - pe) / (1.0 - pe)


def pair_agreement(pa: Path, pb: Path, dice_below: float = 0.8, hd95_above: float = 10.0,
                   tolerance_mm: float = 2.0) -> dict[str, Any]:
    """Dice, HD95, NSD, volumes, kappa and the ``adjudicate`` flag of two masks of one case."""
    a, props_a = read_mask(pa)
    b, _ = read_mask(pb, like=(pa, a.shape))
    m = compute_metrics(b > 0, a > 0, props_a.spacing, tolerance_mm=tolerance_mm)
    row = {"dice": m["dice"], "hd95": m["hd95"], "nsd": m["nsd"], "volume_a_ml": m["gt_ml"],
           "volume_b_ml": m["pred_ml"], "volume_diff_ml": m["pred_ml"] - m["gt_ml"], "kappa": cohen_kappa(a > 0, b > 0)}
    row["adjudicate"] = bool(row["dice"] < dice_below or row["hd95"] > hd95_above)
    return row


def compare_annotations(dir_a: Path, dir_b: Path, key: pd.DataFrame | None = None, dice_below: float = 0.8,
                        hd95_above: float = 10.0, tolerance_mm: float = 2.0) -> pd.DataFrame:
    """One row per case present in both folders: Dice, HD95, NSD, volume difference, kappa, ``adjudicate``."""
    codes_a = {p.name.split(".")[0] for p in Path(dir_a).iterdir() if p.is_file()}
    codes_b = {p.name.split(".")[0] for p in Path(dir_b).iterdir() if p.is_file()}
    pairs = {c: (find_mask(Path(dir_a), c), find_mask(Path(dir_b), c)) for c in sorted(codes_a & codes_b)}
    common = {c: (pa, pb) for c, (pa, pb) in pairs.items() if pa is not None and pb is not None}
    if not common:
        raise CrosspanError(dir_b, f"no mask in common with {dir_a}",
                            "compare the two annotators of the same cases (masks named <code>.nii.gz)")
    info = key.set_index("code") if key is not None and "code" in key.columns else None
    rows = []
    for code, (pa, pb) in common.items():
        row = {"code": code, **pair_agreement(pa, pb, dice_below, hd95_above, tolerance_mm)}
        if info is not None and code in info.index:
            for col in INFO_COLUMNS:
                row[col] = info.loc[code, col]
        rows.append(row)
    return pd.DataFrame(rows)


def compare_assignment(assignment: Path, dice_below: float = 0.8, hd95_above: float = 10.0,
                       tolerance_mm: float = 2.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every case of ``key.csv`` compared once between its two annotators.

    Returns the agreement table (one row a case whose two masks are back, with ``annotator_a``/``annotator_b``)
    and the missing masks (``annotator, code, expected``).
    """
    key = load_key(assignment)
    rows, missing = [], []
    for _, k in key.iterrows():
        pair = annotators_of(k)
        paths = [annotator_mask(assignment, a, k["code"]) for a in pair]
        for a, p in zip(pair, paths, strict=True):
            if p is None:
                missing.append({"annotator": a, "code": k["code"], "expected": f"{a}/masks/{k['code']}.nii.gz"})
        pa, pb = paths
        if pa is None or pb is None:
            continue
        info = {c: k[c] for c in INFO_COLUMNS if c in key.columns}
        rows.append({"code": k["code"], **info, "annotator_a": pair[0], "annotator_b": pair[1],
                     **pair_agreement(pa, pb, dice_below, hd95_above, tolerance_mm)})
    missing_df = pd.DataFrame(missing, columns=["annotator", "code", "expected"])
    if not rows:
        counts = ", ".join(f"{a}: {n}" for a, n in missing_df.groupby("annotator").size().items())
        raise CrosspanError(assignment, f"no case has both masks back yet (missing {counts})",
                            "annotators save masks as <annotator>/masks/<code>.nii.gz (see their worklist.csv)")
    return pd.DataFrame(rows), missing_df


def agreement_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean agreement and the number of cases to adjudicate by center and sequence (when known)."""
    keys = [c for c in ("center", "sequence") if c in table.columns]
    group = table.groupby(keys) if keys else table.assign(all="all").groupby("all")
    return group.agg(cases=("code", "size"), dice_mean=("dice", "mean"), hd95_median=("hd95", "median"),
                     kappa_mean=("kappa", "mean"), adjudicate=("adjudicate", "sum")).round(4).reset_index()


def annotator_summary(table: pd.DataFrame, missing: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each annotator's mean agreement with whoever shared their cases, and volume bias (own - partner, ml)."""
    side = {"a": "b", "b": "a"}
    long = pd.concat([pd.DataFrame({"annotator": table[f"annotator_{s}"], "partner": table[f"annotator_{o}"],
                                    "dice": table["dice"], "hd95": table["hd95"], "kappa": table["kappa"],
                                    "bias": table[f"volume_{s}_ml"] - table[f"volume_{o}_ml"],
                                    "adjudicate": table["adjudicate"].astype(bool)}) for s, o in side.items()])
    out = long.groupby("annotator").agg(cases=("dice", "size"), dice_mean=("dice", "mean"),
                                        hd95_median=("hd95", "median"), kappa_mean=("kappa", "mean"),
                                        volume_bias_ml=("bias", "mean"), adjudicate=("adjudicate", "sum"))
    if missing is not None:
        out = out.reindex(pd.Index(sorted(set(out.index) | set(missing["annotator"])), name="annotator"))
        out["cases"] = out["cases"].fillna(0).astype(int)
        out["missing"] = missing.groupby("annotator").size().reindex(out.index).fillna(0).astype(int)
    return out.round(4).reset_index()


def adjudication_list(table: pd.DataFrame, dice_below: float = 0.8, hd95_above: float = 10.0) -> pd.DataFrame:
    """The flagged rows with the reason each was flagged."""
    flagged = table[table["adjudicate"].astype(bool)].copy()
    reasons = []
    for r in flagged.itertuples():
        why = [f"dice {r.dice:.3f} < {dice_below:g}"] if r.dice < dice_below else []
        why += [f"hd95 {r.hd95:.1f} mm > {hd95_above:g}"] if r.hd95 > hd95_above else []
        reasons.append("; ".join(why))
    flagged["reason"] = reasons
    cols = [c for c in ("code", *INFO_COLUMNS, "annotator_a", "annotator_b", "dice", "hd95", "kappa", "reason")
            if c in flagged.columns]
    return flagged[cols].reset_index(drop=True)
