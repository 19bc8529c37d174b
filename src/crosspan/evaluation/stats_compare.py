"""Source-vs-target correlation across runs (PancreasDG finding ii) and paired method comparisons.

- Correlation: each run (method x run x seed) gives one point, its in-domain mean Dice against its cross-center
  (or cross-sequence) mean Dice. Pearson r with a Fisher z interval (Fisher 1921), Spearman rho with a
  percentile bootstrap over runs, and a least-squares line for the scatter.
- Paired tests: two methods are compared on the very same cases (same case and training domains; runs and
  seeds averaged per case), Wilcoxon signed-rank (Wilcoxon 1945, via scipy) with Holm's step-down correction
  (Holm 1979) over all method pairs within a transfer type, plus win rates.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from crosspan.core.seeding import rng

RUN_KEYS = ("method", "run", "seed")


def run_means(df: pd.DataFrame, metric: str = "dice") -> pd.DataFrame:
    """One row per run (method x run x seed, plus training domains), one column per transfer type."""
    keys = [*RUN_KEYS, "train_domains"]
    out = df.pivot_table(index=keys, columns="transfer", values=metric, aggfunc="mean").reset_index()
    out.columns.name = None
    out["oracle"] = df.groupby(keys, sort=True)["oracle"].any().to_numpy()
    return out


def pearson_fisher(x: np.ndarray, y: np.ndarray, alpha: float = 0.05) -> dict[str, float]:
    """Pearson r, p-value and Fisher z confidence interval (needs n >= 4)."""
    n = len(x)
    if n < 3 or np.std(x) == 0 or np.std(y) == 0:
        return {"r": math.nan, "p": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    r, p = sps.pearsonr(x, y)
    if n < 4:
        return {"r": float(r), "p": float(p), "ci_low": math.nan, "ci_high": math.nan}
    z, se = np.arctanh(np.clip(r, -0.9999999, 0.9999999)), 1 / math.sqrt(n - 3)
    q = sps.norm.ppf(1 - alpha / 2)
    return {"r": float(r), "p": float(p), "ci_low": float(np.tanh(z - q * se)), "ci_high": float(np.tanh(z + q * se))}


def spearman_bootstrap(x: np.ndarray, y: np.ndarray, n_boot: int = 2000, seed: int = 0,
                       alpha: float = 0.05) -> dict[str, float]:
    """Spearman rho, p-value and percentile bootstrap CI (pairs resampled)."""
    n = len(x)
    if n < 3 or np.std(x) == 0 or np.std(y) == 0:
        return {"rho": math.nan, "p": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    rho, p = sps.spearmanr(x, y)
    idx = rng("spearman", seed, n).integers(0, n, size=(n_boot, n))
    rx = sps.rankdata(x[idx], axis=1)
    ry = sps.rankdata(y[idx], axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx**2).sum(1) * (ry**2).sum(1))
    reps = np.where(den > 0, (rx * ry).sum(1) / np.where(den > 0, den, 1), np.nan)
    lo, hi = np.nanquantile(reps, [alpha / 2, 1 - alpha / 2])
    return {"rho": float(rho), "p": float(p), "ci_low": float(lo), "ci_high": float(hi)}


def source_target_correlation(df: pd.DataFrame, metric: str = "dice", n_boot: int = 2000, seed: int = 0,
                              include_oracle: bool = False) -> dict[str, Any]:
    """In-domain vs cross-center / cross-sequence / cross-both mean metric across runs.

    Oracle runs (ground-truth-derived test-time information) are listed among the points but left out of the
    statistics unless ``include_oracle``.
    """
    runs = run_means(df, metric)
    targets: dict[str, Any] = {}
    out: dict[str, Any] = {"metric": metric, "unit": "one point per run (method x run x seed x train domains)",
                           "include_oracle": include_oracle, "targets": targets}
    for target in ("cross-center", "cross-sequence", "cross-both"):
        if "in-domain" not in runs or target not in runs:
            continue
        pts = runs.dropna(subset=["in-domain", target])
        used = pts if include_oracle else pts[~pts["oracle"]]
        x, y = used["in-domain"].to_numpy(float), used[target].to_numpy(float)
        fit = np.polyfit(x, y, 1) if len(x) >= 2 and np.std(x) > 0 else [math.nan, math.nan]
        targets[target] = {
            "n_runs": len(x), "n_oracle_excluded": len(pts) - len(used), "pearson": pearson_fisher(x, y),
            "spearman": spearman_bootstrap(x, y, n_boot, seed),
            "fit": {"slope": float(fit[0]), "intercept": float(fit[1])},
            "points": [{"method": m, "run": r, "seed": s, "train_domains": t, "source": float(a), "target": float(b),
                        "oracle": bool(o)} for m, r, s, t, a, b, o in
                       pts[[*RUN_KEYS, "train_domains", "in-domain", target, "oracle"]].itertuples(index=False)],
        }
    return out


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values: ``max_{j<=i} min(1, (m - j + 1) p_(j))`` in sorted order."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if not ok.any():
        return out
    q = p[ok]
    order = np.argsort(q, kind="stable")
    m = len(q)
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * q[order]))
    res = np.empty(m)
    res[order] = adj
    out[ok] = res
    return out


def paired_tests(df: pd.DataFrame, metric: str = "dice", higher_is_better: bool = True) -> pd.DataFrame:
    """Wilcoxon signed-rank of every method pair on shared cases, per transfer type and over all; Holm per group."""
    per_case = df.groupby(["method", "transfer", "train_domains", "case_id"], sort=True)[metric].mean().reset_index()
    rows = []
    groups = [("all", per_case), *per_case.groupby("transfer", sort=True)]
    for transfer, g in groups:
        wide = g.pivot_table(index=["transfer", "train_domains", "case_id"], columns="method", values=metric)
        block = []
        for a, b in itertools.combinations(sorted(wide.columns), 2):
            pair = wide[[a, b]].dropna()
            if pair.empty:
                continue
            d = (pair[a] - pair[b]).to_numpy() * (1 if higher_is_better else -1)
            if len(d) == 0 or np.all(d == 0):
                stat, p = math.nan, 1.0
            else:
                res = sps.wilcoxon(pair[a], pair[b])
                stat, p = float(res.statistic), float(res.pvalue)
            block.append({"transfer": transfer, "method_a": a, "method_b": b, "n_cases": len(d),
                          f"mean_{metric}_a": float(pair[a].mean()), f"mean_{metric}_b": float(pair[b].mean()),
                          "mean_diff": float((pair[a] - pair[b]).mean()),
                          "median_diff": float((pair[a] - pair[b]).median()),
                          "win_rate_a": float((d > 0).mean()), "win_rate_b": float((d < 0).mean()),
                          "ties": float((d == 0).mean()), "wilcoxon_stat": stat, "p": p})
        if block:
            adj = holm([r["p"] for r in block])
            for r, h in zip(block, adj, strict=True):
                r["p_holm"] = float(h)
                r["significant"] = bool(h < 0.05)
        rows.extend(block)
    return pd.DataFrame(rows)
