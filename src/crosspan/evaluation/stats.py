"""Domain-aware statistics of a per-case results table: loading, cluster bootstrap CIs, aggregates, domain matrix.

The per-case table is the one ``crosspan evaluate`` writes (one row per case x method x run). Cases of one
patient are correlated (same anatomy, several sequences), so confidence intervals resample *patients*, not
cases: the cluster (block) bootstrap of Davison & Hinkley (1997, sec. 3.8), percentile intervals.

Sampling variance and gaps live in :mod:`crosspan.evaluation.stats_variance`, correlations and paired tests
in :mod:`crosspan.evaluation.stats_compare`, model selection in :mod:`crosspan.evaluation.stats_selection`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crosspan.core.errors import CrosspanError
from crosspan.core.seeding import rng

#: Columns an analysis cannot do without.
REQUIRED_COLUMNS = ("case_id", "patient_id", "center", "sequence", "method", "dice")
#: Optional columns and the value used when a table lacks them.
OPTIONAL_DEFAULTS: dict[str, object] = {"run": "0", "seed": 0, "train_domains": "", "transfer": "unknown",
                                        "oracle": False}
#: Metrics aggregated when present (higher-is-better ones first).
METRICS = ("dice", "nsd", "iou", "hd95", "assd")
TRANSFERS = ("in-domain", "cross-center", "cross-sequence", "cross-both", "unknown")
_TEXT_COLUMNS = ("case_id", "patient_id", "center", "sequence", "method", "run", "train_domains", "transfer")


def _as_bool(values: pd.Series) -> pd.Series:
    if values.dtype == bool:
        return values
    return values.astype(str).str.strip().str.lower().isin(("true", "1", "yes", "y", "t"))


def infer_transfer(train_domains: Iterable[str], center: str, sequence: str) -> str:
    """The transfer type of a row whose table lacks it (see :func:`crosspan.evaluation.transfer.transfer_type`)."""
    from crosspan.evaluation.transfer import transfer_type

    return transfer_type(center, sequence, train_domains)


def check_dice_column(values: pd.Series, source: str | Path) -> pd.Series:
    """``values`` of a results file as numbers; text that is not a number, or a Dice outside [0, 1] (a
    percentage?), is an error naming the CSV line (empty cells stay NaN: a case without a score)."""
    dice = pd.to_numeric(values, errors="coerce")
    text = values.astype(str).str.strip()
    bad = dice.isna() & values.notna() & ~text.str.lower().isin(("", "nan"))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise CrosspanError(source, f"dice on line {i + 2} is not a number ({text.iloc[i][:40]!r})",
                            "pass the per-case table written by `crosspan evaluate` (numbers in [0, 1])")
    out = (dice < 0) | (dice > 1)
    if out.any():
        i = int(np.flatnonzero(out.to_numpy())[0])
        raise CrosspanError(source, f"dice on line {i + 2} is {dice.iloc[i]:g}, outside [0, 1] (a percentage?)",
                            "write Dice as a fraction in [0, 1] (divide percentages by 100)")
    return dice


def prepare_results(df: pd.DataFrame, source: str | Path = "results table") -> pd.DataFrame:
    """Check the columns, fill optional ones, add ``domain`` and fill ``transfer`` where unknown."""
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        has = ", ".join(map(str, df.columns[:10])) + (", ..." if len(df.columns) > 10 else "")
        raise CrosspanError(source, f"missing column(s) {', '.join(missing)} (has {has})",
                            "pass the per-case table written by `crosspan evaluate`")
    df = df.copy()
    for col, default in OPTIONAL_DEFAULTS.items():
        if col not in df.columns:
            df[col] = default
    for col in _TEXT_COLUMNS:
        df[col] = df[col].fillna("").astype(str)
    df["oracle"] = _as_bool(df["oracle"])
    df["dice"] = pd.to_numeric(df["dice"], errors="coerce")
    df["domain"] = df["center"] + ":" + df["sequence"]
    unknown = ~df["transfer"].isin(TRANSFERS[:-1])
    if unknown.any():
        df.loc[unknown, "transfer"] = [infer_transfer(t.split(","), c, s) for t, c, s in
                                       df.loc[unknown, ["train_domains", "center", "sequence"]].itertuples(index=False)]
    return df


def load_results(paths: Sequence[str | Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read and concatenate per-case CSVs; return ``(scored rows, skipped rows)``.

    Rows whose optional ``status`` column reads ``skipped`` are returned apart (a method that could not run).
    """
    frames = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            inside = ", ".join(sorted(f.name for f in path.glob("*.csv"))[:3])
            raise CrosspanError(path, "is a folder, not a results CSV" + (f" (it holds {inside})" if inside else
                                                                         " (and holds no CSV)"),
                                "pass the CSV(s) written by `crosspan evaluate`, e.g. FOLDER/*.csv")
        if not path.is_file():
            raise CrosspanError(path, "results table does not exist", "pass a CSV written by `crosspan evaluate`")
        try:
            raw = pd.read_csv(path, dtype={"case_id": str, "patient_id": str, "run": str, "center": str,
                                           "sequence": str}, keep_default_na=True)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError, OSError, EOFError) as err:
            # OSError/EOFError: pandas decompresses by suffix (a binary file named .gz, a truncated .csv.gz)
            raise CrosspanError(path, f"not a readable CSV ({type(err).__name__}: {str(err).splitlines()[0][:120]})",
                                "pass a CSV written by `crosspan evaluate`") from None
        if "dice" in raw.columns:
            check_dice_column(raw["dice"], path)
        if "status" in raw.columns:
            skipped = raw["status"].astype(str).str.lower().eq("skipped")
            if skipped.any() and "method" in raw.columns:
                frames.append(("skip", raw[skipped]))
            raw = raw[~skipped]
        frames.append(("ok", prepare_results(raw, path)))
    scored = [f for kind, f in frames if kind == "ok"]
    skipped = [f for kind, f in frames if kind == "skip"]
    results = pd.concat(scored, ignore_index=True) if scored else pd.DataFrame()
    skip = pd.concat(skipped, ignore_index=True) if skipped else pd.DataFrame(columns=["method"])
    if results.empty:
        raise CrosspanError(", ".join(map(str, paths)), "no scored rows", "evaluate some predictions first")
    return results, skip


def cluster_bootstrap(values: np.ndarray, clusters: np.ndarray | None = None, n_boot: int = 2000,
                      seed: int | Sequence[object] = 0, alpha: float = 0.05) -> tuple[float, float, np.ndarray]:
    """Percentile CI of the mean, resampling whole clusters (patients) with replacement.

    Each replicate draws as many clusters as there are and averages all their cases, so a patient with three
    scans weighs three times one with a single scan, as in the point estimate. ``clusters=None`` resamples
    cases. Returns ``(low, high, replicates)``; NaN values are dropped first.
    """
    values = np.asarray(values, dtype=float)
    clusters = np.arange(len(values)) if clusters is None else np.asarray(clusters)
    keep = np.isfinite(values)
    values, clusters = values[keep], clusters[keep]
    if len(values) == 0:
        return float("nan"), float("nan"), np.empty(0)
    _, inverse = np.unique(clusters, return_inverse=True)
    sums = np.bincount(inverse, weights=values)
    counts = np.bincount(inverse).astype(float)
    gen = rng("cluster-bootstrap", *(seed if isinstance(seed, (list, tuple)) else [seed]))
    idx = gen.integers(0, len(sums), size=(n_boot, len(sums)))
    reps = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    low, high = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high), reps


def aggregate(df: pd.DataFrame, by: Sequence[str], metrics: Sequence[str] = METRICS, n_boot: int = 2000,
              seed: int = 0, alpha: float = 0.05, bootstrap: str = "auto") -> pd.DataFrame:
    """n, mean, SD, median and bootstrap CI of each metric per group of ``by``.

    ``bootstrap``: ``patient`` (cluster bootstrap), ``hierarchical`` (centers, patients, scans) or ``auto``
    (hierarchical where the group spans >= 3 centers); the ``bootstrap`` column says which a group used.
    """
    from crosspan.evaluation.resample import bootstrap_weights, resolve_mode, weighted_ci

    metrics = [m for m in metrics if m in df.columns]
    rows = []
    for keys, g in df.groupby(list(by), sort=True, dropna=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        row: dict[str, object] = dict(zip(by, keys, strict=True))
        mode = resolve_mode(bootstrap, g["center"].to_numpy())
        stats = dict(n=int(g["dice"].notna().sum()), n_patients=int(g["patient_id"].nunique()),
                     n_centers=int(g["center"].nunique()), bootstrap=mode,
                     n_runs=int(g[["run", "seed"]].drop_duplicates().shape[0]),
                     oracle=bool(_as_bool(g["oracle"]).any()))
        row.update({k: v for k, v in stats.items() if k not in by})  # a group key is never overwritten
        weights = (bootstrap_weights(mode, g["center"].to_numpy(), g["patient_id"].to_numpy(), n_boot,
                                     [seed, *keys])[0] if mode == "hierarchical" else None)  # one draw set, all metrics
        for m in metrics:
            v = pd.to_numeric(g[m], errors="coerce").to_numpy(dtype=float)
            if weights is not None:
                lo, hi, _ = weighted_ci(v, weights, alpha)
            else:
                lo, hi, _ = cluster_bootstrap(v, g["patient_id"].to_numpy(), n_boot, [seed, m, *keys], alpha)
            finite = v[np.isfinite(v)]
            row.update({f"{m}_mean": finite.mean() if finite.size else np.nan,
                        f"{m}_sd": finite.std(ddof=1) if finite.size > 1 else np.nan,
                        f"{m}_median": np.median(finite) if finite.size else np.nan,
                        f"{m}_ci_low": lo, f"{m}_ci_high": hi})
        rows.append(row)
    return pd.DataFrame(rows)


def summary_by_domain(df: pd.DataFrame, **kw: Any) -> pd.DataFrame:
    """Aggregates per method x target domain (``center:sequence``), runs pooled; ``kw`` as :func:`aggregate`."""
    return aggregate(df, ["method", "domain", "transfer"], **kw)


def summary_by_transfer(df: pd.DataFrame, **kw: Any) -> pd.DataFrame:
    """Aggregates per method x transfer type (in-domain, cross-center, cross-sequence, cross-both)."""
    out = aggregate(df, ["method", "transfer"], **kw)
    order = {t: i for i, t in enumerate(TRANSFERS)}
    return out.sort_values(["method", "transfer"], key=lambda s: s.map(order) if s.name == "transfer" else s,
                           ignore_index=True)


def domain_matrix(df: pd.DataFrame, metric: str = "dice") -> pd.DataFrame:
    """Long table: method x training domains x test domain -> mean metric, n (the train x test matrix)."""
    g = df.groupby(["method", "train_domains", "domain"], sort=True)[metric]
    out = g.agg(["mean", "count"]).reset_index().rename(columns={"mean": f"mean_{metric}", "count": "n",
                                                                 "domain": "test_domain"})
    out["oracle"] = df.groupby(["method", "train_domains", "domain"], sort=True)["oracle"].any().to_numpy()
    return out


def matrix_pivot(matrix: pd.DataFrame, metric: str = "dice") -> pd.DataFrame:
    """Rows ``method | train domains``, columns test domains (for a heatmap)."""
    rows = matrix["method"] + " | " + matrix["train_domains"].replace("", "?")
    return matrix.assign(row=rows).pivot_table(index="row", columns="test_domain", values=f"mean_{metric}",
                                               sort=True)
