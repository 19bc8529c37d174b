"""Readable ranking tables (see :mod:`crosspan.evaluation.ranking`) for the HTML, Markdown and LaTeX report."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crosspan.evaluation.ranking import Ranking


def _rank(v: float) -> str:
    return "–" if not np.isfinite(v) else (f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}")


def ranking_table(ranking: Ranking, level: str | None = "transfer") -> pd.DataFrame:
    """One row per task x method: the three schemes and the bootstrap median rank with its 95 % interval."""
    r = ranking.ranks if level is None else ranking.ranks[ranking.ranks["level"] == level]
    if r.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "Task": r["task"], "Method": r["method"], "n cases (patients)": [
            f"{a} ({b})" for a, b in zip(r["n_cases"], r["n_patients"], strict=True)],
        "Mean Dice": r["mean_dice"].map(lambda v: f"{v:.3f}"),
        "Rank: aggregate-then-rank": r["rank_aggregate"].map(_rank),
        "Rank: rank-then-aggregate": r["rank_rank_aggregate"].map(_rank),
        "Rank: test-then-rank": r["rank_test"].map(_rank),
        "Bootstrap median rank [95 %]": [f"{_rank(m)} [{_rank(lo)}, {_rank(hi)}]" for m, lo, hi in
                                         zip(r["boot_median_rank"], r["boot_rank_low"], r["boot_rank_high"],
                                             strict=True)],
        "P(rank 1)": r["p_rank1"].map(lambda v: f"{v:.0%}"), "Resampled": r["bootstrap"],
        "Oracle": np.where(r["oracle"], "oracle", ""),
    }).reset_index(drop=True)


def tau_table(ranking: Ranking) -> pd.DataFrame:
    """Kendall's tau of bootstrap vs full ranking per task and scheme, median [95 % interval] and mean."""
    t = ranking.tau
    if t.empty:
        return pd.DataFrame()

    def fmt(v: float) -> str:
        return "–" if not np.isfinite(v) else f"{v:.2f}"

    return pd.DataFrame({
        "Task": t["task"], "Scheme": t["scheme"], "Methods": t["n_methods"], "Draws": t["n_boot"],
        "Resampled": t["bootstrap"],
        "Kendall τ median [95 %]": [f"{fmt(m)} [{fmt(lo)}, {fmt(hi)}]" for m, lo, hi in
                                    zip(t["tau_median"], t["tau_low"], t["tau_high"], strict=True)],
        "τ mean": t["tau_mean"].map(fmt),
    })


def consensus_table(ranking: Ranking) -> pd.DataFrame:
    """Consensus rank per scope (transfer type, all cross-domain targets) from the per-domain ranks."""
    c = ranking.consensus
    if c.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "Scope": c["scope"], "Consensus rank": c["consensus_rank"], "Method": c["method"],
        "Mean rank": c["mean_rank"].map(lambda v: f"{v:.2f}"), "Median rank": c["median_rank"].map(_rank),
        "Domains": [f"{n}: {d}" for n, d in zip(c["n_domains"], c["domains"], strict=True)],
        "Oracle": np.where(c["oracle"], "oracle", ""),
    })


def skipped_tasks_text(ranking: Ranking) -> str:
    """Tasks that could not be ranked, in words (empty when none)."""
    s = ranking.skipped
    if s.empty:
        return ""
    items = [f"{t}{' / ' + d if d else ''}: {why}" for t, d, why in s[["transfer", "domain", "reason"]]
             .itertuples(index=False)]
    return "Not ranked: " + "; ".join(items) + "."
