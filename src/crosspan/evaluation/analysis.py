"""All analyses of a results table in one call, and writing them to a folder (``crosspan analyze``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from crosspan.core.atomic import atomic_path, write_json
from crosspan.evaluation.ranking import Ranking, ranking_analysis
from crosspan.evaluation.stats import domain_matrix, summary_by_domain, summary_by_transfer
from crosspan.evaluation.stats_compare import paired_tests, source_target_correlation
from crosspan.evaluation.stats_variance import domain_gaps, sampling_variance

OUTPUT_FILES = ("summary.csv", "by_transfer.csv", "domain_matrix.csv", "sampling_variance.csv", "domain_gaps.csv",
                "correlation.json", "paired_tests.csv", "skipped.csv", "ranking.csv", "ranking_bootstrap.csv",
                "ranking_tau.csv", "significance.csv", "consensus.csv", "ranking_skipped.csv")


@dataclass
class Analysis:
    """Every table of an analysis; ``skipped`` lists methods that could not run (``status == skipped``)."""

    summary: pd.DataFrame
    by_transfer: pd.DataFrame
    matrix: pd.DataFrame
    variance: pd.DataFrame
    gaps: pd.DataFrame
    correlation: dict[str, Any]  # the JSON document of source_target_correlation
    paired: pd.DataFrame
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["method"]))
    ranking: Ranking | None = None
    params: dict[str, Any] = field(default_factory=dict)  # the settings it ran with (JSON)


def analyze(results: pd.DataFrame, skipped: pd.DataFrame | None = None, seed: int = 0, n_boot: int = 2000,
            n_draws: int = 1000, alpha: float = 0.05, power: float = 0.8, bootstrap: str = "auto",
            n_rank_boot: int = 1000) -> Analysis:
    """Run every analysis on a prepared results table (see :func:`crosspan.evaluation.stats.load_results`).

    ``bootstrap`` (auto, patient, hierarchical) is the resampling scheme of the CIs and the ranking bootstrap
    (:mod:`crosspan.evaluation.resample`); ``n_rank_boot`` the draws of the ranking bootstrap.
    """
    skip = skipped if skipped is not None else pd.DataFrame(columns=["method"])
    if not skip.empty:
        cols = [c for c in ("method", "run", "seed", "reason", "message") if c in skip.columns]
        skip = skip[cols].drop_duplicates().reset_index(drop=True)
    return Analysis(
        summary=summary_by_domain(results, seed=seed, n_boot=n_boot, alpha=alpha, bootstrap=bootstrap),
        by_transfer=summary_by_transfer(results, seed=seed, n_boot=n_boot, alpha=alpha, bootstrap=bootstrap),
        matrix=domain_matrix(results),
        variance=sampling_variance(results, n_draws=n_draws, seed=seed),
        gaps=domain_gaps(results, n_draws=n_draws, seed=seed, alpha=alpha, power=power),
        correlation=source_target_correlation(results, n_boot=n_boot, seed=seed),
        paired=paired_tests(results),
        skipped=skip,
        ranking=ranking_analysis(results, n_boot=n_rank_boot, seed=seed, bootstrap=bootstrap, alpha=alpha),
        params={"seed": seed, "n_boot": n_boot, "n_draws": n_draws, "alpha": alpha, "power": power,
                "bootstrap": bootstrap, "n_rank_boot": n_rank_boot,
                "n_rows": len(results), "methods": sorted(results["method"].unique())},
    )


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")


def write_analysis(a: Analysis, outdir: str | Path) -> list[Path]:
    """Write every table of ``a`` into ``outdir`` (each file atomically); return the paths."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    tables = {"summary.csv": a.summary, "by_transfer.csv": a.by_transfer, "domain_matrix.csv": a.matrix,
              "sampling_variance.csv": a.variance, "domain_gaps.csv": a.gaps, "paired_tests.csv": a.paired,
              "skipped.csv": a.skipped}
    if a.ranking is not None:
        r = a.ranking
        tables.update({"ranking.csv": r.ranks, "ranking_bootstrap.csv": r.blobs, "ranking_tau.csv": r.tau,
                       "significance.csv": r.significance, "consensus.csv": r.consensus,
                       "ranking_skipped.csv": r.skipped})
    paths = []
    for name, df in tables.items():
        _write_csv(df, out / name)
        paths.append(out / name)
    write_json(out / "correlation.json", {**a.correlation, "params": a.params})
    paths.append(out / "correlation.json")
    return paths
