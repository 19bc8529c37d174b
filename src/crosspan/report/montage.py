"""Overlay montages: prediction (red) and ground truth (green) contours on the image, best / median / worst case
of each target domain, on the axial slice where the ground truth is largest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from crosspan.core.errors import CrosspanError
from crosspan.data.catalog import catalog_from
from crosspan.data.io import read_image
from crosspan.report.figures import domain_order, png

PRED_SUFFIX = ".nii.gz"
GT_COLOR, PRED_COLOR = "#2ecc40", "#ff3b30"


def check_montage_inputs(df: pd.DataFrame, catalog: Path, pred_dir: Path, method: str | None = None) -> None:
    """Stop early, with one line, on a montage input that would silently give no figure: a missing catalog, a
    prediction folder that is missing, not a folder or holds no ``<case_id>.nii.gz``, an unknown method."""
    if not Path(catalog).exists():
        raise CrosspanError(catalog, "--catalog does not exist", "pass the catalog CSV or dataset the results "
                            "were scored on")
    if not Path(pred_dir).is_dir():
        why = "is not a folder" if Path(pred_dir).exists() else "does not exist"
        raise CrosspanError(pred_dir, f"--pred-dir {why}", "pass the folder `crosspan predict -o` wrote")
    if not any(Path(pred_dir).glob(f"*{PRED_SUFFIX}")):
        raise CrosspanError(pred_dir, f"--pred-dir holds no <case_id>{PRED_SUFFIX} prediction",
                            "pass the folder `crosspan predict -o` wrote")
    methods = sorted(df["method"].astype(str).unique())
    if method is not None and method not in methods:
        raise CrosspanError(None, f"--montage-method '{method}' is not in the results",
                            f"use one of {', '.join(methods[:8])}")


def pick_cases(df: pd.DataFrame, pred_dir: Path, method: str | None = None,
               max_domains: int = 8) -> tuple[str | None, pd.DataFrame]:
    """The method whose predictions are in ``pred_dir`` and its best / median / worst case per target domain."""
    have = {p.name[: -len(PRED_SUFFIX)] for p in pred_dir.glob(f"*{PRED_SUFFIX}")}
    rows = df[df["case_id"].isin(have)]
    if rows.empty:
        return None, pd.DataFrame()
    if method is None:
        method = rows.groupby("method")["case_id"].nunique().idxmax()
    per_case = (rows[rows["method"] == method].groupby(["domain", "case_id"], sort=True)["dice"].mean()
                .reset_index().dropna())
    picks = []
    for d in [d for d in domain_order(rows) if d in set(per_case["domain"])][:max_domains]:
        g = per_case[per_case["domain"] == d].sort_values(["dice", "case_id"], ascending=[False, True])
        chosen = {"best": 0, "median": len(g) // 2, "worst": len(g) - 1}
        for label, i in chosen.items():
            picks.append({"domain": d, "pick": label, "case_id": g.iloc[i]["case_id"], "dice": g.iloc[i]["dice"]})
    return method, pd.DataFrame(picks)


def _resolve(path: str, base: Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() or p.exists() else base / p


def _panel(image: np.ndarray, gt: np.ndarray, pred: np.ndarray, spacing: tuple[float, ...]):
    """The axial slice with the largest ground truth (else prediction), cropped around both masks."""
    area = gt.reshape(gt.shape[0], -1).sum(1)
    if area.max() == 0:
        area = pred.reshape(pred.shape[0], -1).sum(1)
    z = int(area.argmax()) if area.max() > 0 else image.shape[0] // 2
    img, g, p = image[z].astype(float), gt[z] > 0, pred[z] > 0
    union = g | p
    if union.any():
        ys, xs = np.nonzero(union)
        half = max(24, int(0.8 * max(np.ptp(ys), np.ptp(xs))))
        cy, cx = int(ys.mean()), int(xs.mean())
        y0, x0 = max(0, cy - half), max(0, cx - half)
        sl = (slice(y0, min(img.shape[0], cy + half)), slice(x0, min(img.shape[1], cx + half)))
        img, g, p = img[sl], g[sl], p[sl]
    return img, g, p, z, spacing[1] / spacing[2]


def overlay_montage(picks: pd.DataFrame, catalog: pd.DataFrame, catalog_base: Path, pred_dir: Path) -> bytes | None:
    """Rows = target domains, columns = best / median / worst; returns PNG bytes or None if nothing to show."""
    cat = catalog.set_index("case_id")
    domains = list(dict.fromkeys(picks["domain"]))
    if not domains:
        return None
    fig = Figure(figsize=(9.0, 3.0 * len(domains)))
    axes = fig.subplots(len(domains), 3, squeeze=False)
    shown = 0
    for ax in axes.ravel():
        ax.set_axis_off()
    for r, d in enumerate(domains):
        for c, (_, row) in enumerate(picks[picks["domain"] == d].iterrows()):
            ax = axes[r, c]
            cid = row["case_id"]
            if cid not in cat.index or not str(cat.at[cid, "label"]):
                ax.set_title(f"{cid}: not in catalog", fontsize=8)
                continue
            image, props = read_image(_resolve(str(cat.at[cid, "image"]), catalog_base))
            gt, _ = read_image(_resolve(str(cat.at[cid, "label"]), catalog_base))
            pred, _ = read_image(pred_dir / f"{cid}{PRED_SUFFIX}")
            if pred.shape != gt.shape or image.shape != gt.shape:
                ax.set_title(f"{cid}: shape mismatch", fontsize=8)
                continue
            img, g, p, z, aspect = _panel(image, gt, pred, props.spacing)
            lo, hi = np.percentile(img, [0.5, 99.5]) if img.size else (0, 1)
            ax.imshow(img, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, aspect=aspect,
                      interpolation="nearest")
            if g.any():
                ax.contour(g.astype(float), levels=[0.5], colors=GT_COLOR, linewidths=1.4)
            if p.any():
                ax.contour(p.astype(float), levels=[0.5], colors=PRED_COLOR, linewidths=1.4)
            ax.set_title(f"{d} · {row['pick']}\n{cid} · Dice {row['dice']:.2f} · z={z}", fontsize=8)
            shown += 1
    if not shown:
        return None
    fig.tight_layout()
    return png(fig)


def montage_from(df: pd.DataFrame, catalog_path: Path, pred_dir: Path,
                 method: str | None = None) -> tuple[str | None, pd.DataFrame, bytes | None]:
    """Load the catalog, pick cases and draw the montage: ``(method, picks, png)``."""
    catalog = catalog_from(catalog_path, progress=False)
    base = catalog_path.parent if catalog_path.is_file() else catalog_path
    method, picks = pick_cases(df, pred_dir, method)
    if picks.empty:
        return method, picks, None
    return method, picks, overlay_montage(picks, catalog, base, pred_dir)
