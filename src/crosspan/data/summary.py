"""Dataset summary: center x sequence counts, spacing ranges per domain, label-volume statistics."""

from __future__ import annotations

import pandas as pd


def count_table(catalog: pd.DataFrame) -> pd.DataFrame:
    """Scans per center (rows) and sequence (columns), with totals."""
    return pd.crosstab(catalog["center"], catalog["sequence"], margins=True, margins_name="total")


def domain_table(catalog: pd.DataFrame) -> pd.DataFrame:
    """Per (center, sequence): scans, patients, spacing ranges, label volume mean/SD/min/max (mL)."""
    cat = catalog.copy()
    for col in ("spacing_z", "spacing_y", "spacing_x", "label_ml"):
        cat[col] = pd.to_numeric(cat.get(col), errors="coerce")
    g = cat.groupby(["center", "sequence"], sort=True)
    out = pd.DataFrame({
        "scans": g.size(),
        "patients": g["patient_id"].nunique(),
        "labeled": g["label"].apply(lambda s: int((s.astype(str) != "").sum())),
    })
    for axis in "zyx":
        col = f"spacing_{axis}"
        out[f"{col}_min"] = g[col].min().round(3)
        out[f"{col}_max"] = g[col].max().round(3)
    out["label_ml_mean"] = g["label_ml"].mean().round(2)
    out["label_ml_sd"] = g["label_ml"].std().round(2)
    out["label_ml_min"] = g["label_ml"].min().round(2)
    out["label_ml_max"] = g["label_ml"].max().round(2)
    return out.reset_index()
