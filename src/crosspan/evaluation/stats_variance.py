"""Test-set sampling variance and the smallest detectable domain gap (PancreasDG finding i).

PancreasDG (Zhang, Peng et al., arXiv 2507.23110) shows that with the few test scans a center offers, the mean
Dice of a domain moves by several points from one test sample to the next, which can be mistaken for a domain
shift. We measure it directly: draw ``n`` test cases with replacement from a domain's cases (a new test set of
size ``n`` from the same population), ``n_draws`` times, and take the SD of the mean Dice, ``SD(n)``.

The smallest detectable gap between two domains A and B with ``n_A`` and ``n_B`` test cases is the
minimum detectable difference of a two-sample comparison (two-sided level ``alpha``, power ``power``)::

    MDG = (z_{1 - alpha/2} + z_{power}) * sqrt(SD_A(n_A)^2 + SD_B(n_B)^2)

With equal SDs and ``power=0.5`` (z = 0) this is ``1.96 * sqrt(2) * SD(n)``; the default power 0.8 gives
``2.80 * sqrt(2) * SD(n)``. A reported gap smaller than the MDG is flagged ``below_detectable``: at this test
size it cannot be told apart from sampling noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from crosspan.core.seeding import rng


def subsample_sd(values: np.ndarray, n: int, n_draws: int = 1000, seed: Sequence[object] = (0,)) -> float:
    """SD of the mean of ``n`` values drawn with replacement from ``values`` over ``n_draws`` draws."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size < 2 or n < 1:
        return float("nan")
    idx = rng("subsample", *seed, n).integers(0, values.size, size=(n_draws, n))
    return float(values[idx].mean(axis=1).std(ddof=1))


def sample_size_grid(n_max: int, n_min: int = 2) -> list[int]:
    """About a dozen test sizes from ``n_min`` to ``n_max``, roughly log-spaced, always with ``n_max``."""
    if n_max < n_min:
        return [n_max] if n_max >= 1 else []
    grid = np.unique(np.round(np.geomspace(n_min, n_max, num=min(12, n_max - n_min + 1))).astype(int))
    return sorted({int(v) for v in grid} | {n_max})


def per_case(df: pd.DataFrame, metric: str = "dice") -> pd.DataFrame:
    """One row per method x case x transfer (runs and seeds averaged): repeated runs are not new test cases."""
    return df.groupby(["method", "domain", "transfer", "case_id"], sort=True)[metric].mean().reset_index()


def sampling_variance(df: pd.DataFrame, metric: str = "dice", n_draws: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per method x target domain: ``SD(n)`` of the mean metric for test sizes up to the available count.

    Also gives the analytic ``sd / sqrt(n)`` for comparison; ``n_available`` marks the real test size (distinct
    cases; runs are averaged per case first).
    """
    df = per_case(df, metric)
    rows = []
    for (method, domain), g in df.groupby(["method", "domain"], sort=True):
        v = pd.to_numeric(g[metric], errors="coerce").to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        sd = float(v.std(ddof=1)) if v.size > 1 else float("nan")
        for n in sample_size_grid(v.size):
            rows.append({"method": method, "domain": domain, "n": n, "n_available": int(v.size),
                         f"sd_mean_{metric}": subsample_sd(v, n, n_draws, (seed, method, domain)),
                         "sd_analytic": sd / np.sqrt(n) if v.size > 1 else np.nan})
    return pd.DataFrame(rows)


def detectable_gap(sd_a: float, sd_b: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Minimum detectable difference of two means whose sampling SDs are ``sd_a`` and ``sd_b`` (see module)."""
    z = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)
    return float(z * np.hypot(sd_a, sd_b))


def domain_gaps(df: pd.DataFrame, metric: str = "dice", n_draws: int = 1000, seed: int = 0, alpha: float = 0.05,
                power: float = 0.8) -> pd.DataFrame:
    """Per method: the gap between its in-domain mean and each target domain's mean, with the MDG and a flag.

    Methods without in-domain rows use their best domain as the reference (``reference`` column says which).
    Runs are averaged per case first, so ``n`` counts distinct test cases.
    """
    df = per_case(df, metric)
    rows = []
    for method, g in df.groupby("method", sort=True):
        values = {d: pd.to_numeric(x[metric], errors="coerce").dropna().to_numpy(dtype=float)
                  for d, x in g.groupby("domain", sort=True)}
        ind = g[g["transfer"] == "in-domain"]
        if len(ind):
            ref_name, ref = "in-domain", pd.to_numeric(ind[metric], errors="coerce").dropna().to_numpy(dtype=float)
        else:
            ref_name = max(values, key=lambda d: values[d].mean() if values[d].size else -np.inf)
            ref = values[ref_name]
        sd_ref = subsample_sd(ref, ref.size, n_draws, (seed, method, "ref"))
        for domain, v in values.items():
            transfer = g.loc[g["domain"] == domain, "transfer"].mode().iat[0]
            if transfer == "in-domain" or (ref_name == domain) or v.size < 2 or ref.size < 2:
                continue
            sd_dom = subsample_sd(v, v.size, n_draws, (seed, method, domain))
            gap = float(ref.mean() - v.mean())
            mdg = detectable_gap(sd_ref, sd_dom, alpha, power)
            rows.append({"method": method, "reference": ref_name, "domain": domain, "transfer": transfer,
                         "n_reference": ref.size, "n_domain": v.size, f"reference_{metric}": float(ref.mean()),
                         f"domain_{metric}": float(v.mean()), "gap": gap, "detectable_gap": mdg,
                         "below_detectable": bool(abs(gap) < mdg)})
    return pd.DataFrame(rows)
