"""Ranking robustness of methods, after challengeR (Wiesenfarth et al., Sci. Rep. 2021).

A *task* is one transfer type (all its target domains pooled) or one target domain within a transfer type. In a
task every method is scored on the same cases: runs and seeds are averaged per (case, training domains), a
missing value counts as the worst score (Dice 0; challengeR's ``na.treat = 0``: a missing prediction is scored,
not dropped), and only cases scored by every method of the task are kept; a method that scored under 90 % of the
cases of the best-covered method (another protocol or test set) is left out of that task and named. Then:

- three ranking schemes: *aggregate-then-rank* (mean Dice, then rank), *rank-then-aggregate* (rank the methods
  on each case, average the ranks, then rank) and *test-then-rank* (count the methods each one beats
  significantly, then rank); ties get the smaller rank;
- bootstrap rank distributions: ``n_boot`` draws (1000 by default, seeded) resampling patients, or centers ->
  patients -> scans where the task spans >= 3 centers (:mod:`crosspan.evaluation.resample`); each draw re-ranks
  with aggregate-then-rank and rank-then-aggregate (test-then-rank is ranked on the full data only: it needs
  ``m (m - 1)`` Wilcoxon tests a draw);
- Kendall's tau (``scipy.stats.kendalltau``, tau-b) between each draw's ranking and the full-data ranking, with
  its mean, median and 95 % interval: near 1 the ranking is stable, near 0 it is a coin toss;
- a significance map: one-sided Wilcoxon signed-rank test (``alternative="greater"``) of every ordered pair of
  methods on the shared cases, Holm-adjusted over all ordered pairs of the task, as challengeR does;
- a consensus ranking across target domains (per transfer type, and over all cross-domain targets): the methods
  ranked on every domain of the scope, ordered by their mean aggregate-then-rank rank over those domains,
  challengeR's ``consensus(method = "euclidean")``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from crosspan.evaluation.resample import bootstrap_weights
from crosspan.evaluation.stats import TRANSFERS
from crosspan.evaluation.stats_compare import holm

SCHEMES = ("aggregate-then-rank", "rank-then-aggregate", "test-then-rank")
#: Consensus scope over every target domain that is not in-domain.
ALL_TARGETS = "all cross-domain targets"
UNIT = ["case_id", "train_domains", "patient_id", "center"]
#: A method is ranked in a task when it scored at least this share of the best-covered method's cases.
MIN_COVERAGE = 0.9


@dataclass
class Task:
    """The shared cases x methods score matrix of one ranking task."""

    level: str  # "transfer" (domains pooled) or "domain"
    transfer: str
    domain: str
    methods: list[str]
    values: np.ndarray  # (cases, methods)
    patients: np.ndarray
    centers: np.ndarray
    oracle: dict[str, bool]
    n_dropped: int = 0
    left_out: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.transfer if self.level == "transfer" else f"{self.transfer} / {self.domain}"


@dataclass
class Ranking:
    """Every ranking table; ``skipped`` names the tasks that could not be ranked and why."""

    ranks: pd.DataFrame
    blobs: pd.DataFrame
    tau: pd.DataFrame
    significance: pd.DataFrame
    consensus: pd.DataFrame
    skipped: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)  # the settings it ran with (JSON)


def _task(g: pd.DataFrame, level: str, transfer: str, domain: str, metric: str) -> Task | str:
    """The task of rows ``g``, or the reason it cannot be ranked.

    Methods that scored fewer than :data:`MIN_COVERAGE` times the cases of the best-covered method (another
    protocol, another test set) are left out and named in ``Task.left_out``; the others are compared on the cases
    they all scored.
    """
    g = g.assign(**{metric: pd.to_numeric(g[metric], errors="coerce").fillna(0.0)})
    wide = g.pivot_table(index=UNIT, columns="method", values=metric, aggfunc="mean")
    coverage = wide.notna().sum() / wide.notna().sum().max()
    left_out = sorted(coverage.index[coverage < MIN_COVERAGE])
    methods = sorted(coverage.index[coverage >= MIN_COVERAGE])
    if len(methods) < 2:
        return f"needs >= 2 methods scored on the same cases (has {len(methods)})"
    shared = wide[methods].dropna()
    if shared.empty:
        return "no case scored by every method"
    patients = shared.index.get_level_values("patient_id").to_numpy()
    if len(np.unique(patients)) < 2:
        return "needs >= 2 patients scored by every method"
    oracle = g.groupby("method")["oracle"].any()
    return Task(level, transfer, domain, methods, shared[methods].to_numpy(float), patients,
                shared.index.get_level_values("center").to_numpy(), {m: bool(oracle[m]) for m in methods},
                n_dropped=len(wide) - len(shared), left_out=left_out)


def tasks(df: pd.DataFrame, metric: str = "dice") -> tuple[list[Task], list[dict[str, str]]]:
    """Every transfer type present, then its target domains; returns ``(tasks, skipped)``."""
    out, skipped = [], []
    present = [t for t in TRANSFERS if t in set(df["transfer"])]
    for transfer in present:
        g = df[df["transfer"] == transfer]
        items = [("transfer", "", g)] + [("domain", d, x) for d, x in g.groupby("domain", sort=True)]
        for level, domain, rows in items:
            t = _task(rows, level, transfer, domain, metric)
            if isinstance(t, str):
                skipped.append({"level": level, "transfer": transfer, "domain": domain, "reason": t})
            else:
                out.append(t)
                skipped.extend({"level": level, "transfer": transfer, "domain": domain,
                                "reason": f"{m} left out (scored < {MIN_COVERAGE:.0%} of the cases of the others)"}
                               for m in t.left_out)
    return out, skipped


def rank_desc(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """Rank 1 = highest score; ties share the smaller rank."""
    return sps.rankdata(-np.asarray(scores, dtype=float), method="min", axis=axis)


def significance(task: Task, alpha: float = 0.05) -> pd.DataFrame:
    """One-sided Wilcoxon signed-rank ``a > b`` for every ordered pair, Holm over all ordered pairs."""
    rows = []
    for i, j in itertools.permutations(range(len(task.methods)), 2):
        a, b = task.values[:, i], task.values[:, j]
        p = 1.0 if np.all(a == b) else float(sps.wilcoxon(a, b, alternative="greater").pvalue)
        rows.append({"method_a": task.methods[i], "method_b": task.methods[j], "n_cases": len(a),
                     "mean_diff": float((a - b).mean()), "p": p})
    out = pd.DataFrame(rows)
    out["p_holm"] = holm(out["p"].to_numpy())
    out["significant"] = out["p_holm"] < alpha
    return out


def _tau(boot: np.ndarray, full: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of each bootstrap ranking (row) with the full ranking; distinct rankings computed once."""
    uniq, inverse = np.unique(boot, axis=0, return_inverse=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        per = np.array([sps.kendalltau(u, full).statistic for u in uniq], dtype=float)
    return per[np.ravel(inverse)]


def _tau_row(task: Task, scheme: str, taus: np.ndarray, mode: str) -> dict[str, object]:
    finite = taus[np.isfinite(taus)]
    q = np.quantile(finite, [0.025, 0.25, 0.5, 0.75, 0.975]) if finite.size else [np.nan] * 5
    return {"level": task.level, "transfer": task.transfer, "domain": task.domain, "task": task.name,
            "scheme": scheme, "n_methods": len(task.methods), "n_boot": len(taus), "bootstrap": mode,
            "tau_mean": float(finite.mean()) if finite.size else np.nan, "tau_median": q[2], "tau_low": q[0],
            "tau_high": q[4], "tau_q25": q[1], "tau_q75": q[3]}


def rank_task(task: Task, n_boot: int = 1000, seed: int = 0, bootstrap: str = "auto",
              alpha: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, object]], pd.DataFrame]:
    """Ranks, blob frequencies, tau rows and the significance table of one task."""
    x, m = task.values, len(task.methods)
    case_ranks = rank_desc(x, axis=1).astype(float)
    full_agg, full_rta = rank_desc(x.mean(0)), sps.rankdata(case_ranks.mean(0), method="min")
    sig = significance(task, alpha)
    wins = sig.groupby("method_a")["significant"].sum().reindex(task.methods).to_numpy()
    full_test = rank_desc(wins)
    w, mode = bootstrap_weights(bootstrap, task.centers, task.patients, n_boot, [seed, "ranking", task.name])
    w = w[w.sum(1) > 0]
    total = w.sum(1, keepdims=True)
    boot_agg = rank_desc((w @ x) / total, axis=1)
    boot_rta = sps.rankdata((w @ case_ranks) / total, method="min", axis=1)
    key = {"level": task.level, "transfer": task.transfer, "domain": task.domain, "task": task.name}
    ranks = pd.DataFrame({
        **key, "method": task.methods, "oracle": [task.oracle[k] for k in task.methods], "n_cases": len(x),
        "n_patients": len(np.unique(task.patients)), "n_centers": len(np.unique(task.centers)), "bootstrap": mode,
        "mean_dice": x.mean(0), "rank_aggregate": full_agg, "mean_case_rank": case_ranks.mean(0),
        "rank_rank_aggregate": full_rta, "n_significantly_better": wins, "rank_test": full_test,
        "boot_median_rank": np.median(boot_agg, 0),
        "boot_rank_low": np.percentile(boot_agg, 2.5, axis=0, method="lower"),
        "boot_rank_high": np.percentile(boot_agg, 97.5, axis=0, method="higher"),
        "p_rank1": (boot_agg == 1).mean(0), "n_unshared_cases": task.n_dropped,
    }).sort_values(["rank_aggregate", "method"], ignore_index=True)
    freq = np.stack([(boot_agg == r).mean(0) for r in range(1, m + 1)], axis=1)  # (methods, ranks)
    blobs = pd.DataFrame([{**key, "method": task.methods[i], "rank": r + 1, "frequency": float(freq[i, r])}
                          for i in range(m) for r in range(m) if freq[i, r] > 0])
    taus = [_tau_row(task, "aggregate-then-rank", _tau(boot_agg, full_agg), mode),
            _tau_row(task, "rank-then-aggregate", _tau(boot_rta, full_rta), mode)]
    return ranks, blobs, taus, sig.assign(**key)[[*key, *sig.columns]]


def consensus(ranks: pd.DataFrame) -> pd.DataFrame:
    """Per transfer type and over all cross-domain targets: methods by mean rank over target domains."""
    dom = ranks[ranks["level"] == "domain"]
    scopes = [(t, dom[dom["transfer"] == t]) for t in TRANSFERS if t in set(dom["transfer"])]
    scopes.append((ALL_TARGETS, dom[dom["transfer"] != "in-domain"]))
    rows = []
    for scope, g in scopes:
        everywhere = g.groupby("method")["domain"].nunique() == g["domain"].nunique()
        g = g[g["method"].isin(everywhere.index[everywhere])]
        if g["method"].nunique() < 2:
            continue
        s = g.groupby("method").agg(n_domains=("domain", "nunique"), mean_rank=("rank_aggregate", "mean"),
                                    median_rank=("rank_aggregate", "median"), oracle=("oracle", "any"),
                                    mean_dice=("mean_dice", "mean")).reset_index()
        s["consensus_rank"] = sps.rankdata(s["mean_rank"], method="min").astype(int)
        s.insert(0, "scope", scope)
        s["domains"] = ", ".join(sorted(g["domain"].unique()))
        rows.append(s.sort_values(["consensus_rank", "method"]))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["scope", "method", "n_domains", "mean_rank", "median_rank", "oracle", "mean_dice",
                 "consensus_rank", "domains"])


def ranking_analysis(df: pd.DataFrame, n_boot: int = 1000, seed: int = 0, bootstrap: str = "auto",
                     alpha: float = 0.05, metric: str = "dice") -> Ranking:
    """Rank every task of a prepared results table (see module); empty tables where nothing can be ranked."""
    found, skipped = tasks(df, metric)
    parts = [rank_task(t, n_boot, seed, bootstrap, alpha) for t in found]
    ranks = pd.concat([p[0] for p in parts], ignore_index=True) if parts else pd.DataFrame(
        columns=["level", "transfer", "domain", "task", "method", "oracle", "rank_aggregate", "mean_dice"])
    return Ranking(
        ranks=ranks,
        blobs=pd.concat([p[1] for p in parts], ignore_index=True) if parts else pd.DataFrame(),
        tau=pd.DataFrame([row for p in parts for row in p[2]]),
        significance=pd.concat([p[3] for p in parts], ignore_index=True) if parts else pd.DataFrame(),
        consensus=consensus(ranks),
        skipped=pd.DataFrame(skipped, columns=["level", "transfer", "domain", "reason"]),
        params={"n_boot": n_boot, "seed": seed, "bootstrap": bootstrap, "alpha": alpha, "metric": metric},
    )
