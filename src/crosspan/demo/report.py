"""The demo's report: the benchmark's results with overlay montages of the first method's predictions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from crosspan.bench.datasets import IN_DISTRIBUTION
from crosspan.bench.jobs import JobPlan
from crosspan.core.errors import CrosspanError


def demo_report(plan: JobPlan, results_csv: Path, output: Path, test_set: str = IN_DISTRIBUTION) -> Path:
    """Run ``crosspan report`` on one test set's results (never pooled with another's), with its catalog and the
    first method's predictions on it (for the montages)."""
    first = next(j for j in plan.method_jobs if j.info.get("test_set", IN_DISTRIBUTION) == test_set)
    catalog = next(s.args[1] for s in first.steps if s.name == "evaluate")  # `evaluate CATALOG --pred ...`
    where = "the synthetic cohort" if test_set == IN_DISTRIBUTION else f"the {test_set} suite (never trained on)"
    argv = [sys.executable, "-m", "crosspan.cli", "report", str(results_csv), "-o", str(output),
            "--catalog", catalog, "--pred-dir", str(first.path / "pred"), "--montage-method", first.info["method"],
            "--title", f"crosspan demo: {where}, trained on T1 at centers A and B"]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise CrosspanError(output, f"the report failed ({tail})", "rerun `crosspan demo`; the results are kept")
    return output


def transfer_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean Dice per method, test set (the cohort's own split first, then the stress suite) and transfer type: the
    demo's headline."""
    order = {"in-domain": 0, "cross-center": 1, "cross-sequence": 2, "cross-both": 3}
    table = table.copy()
    if "test_set" not in table.columns:
        table["test_set"] = IN_DISTRIBUTION
    g = table.groupby(["method", "test_set", "transfer"])["dice"].agg(["count", "mean"]).reset_index()
    g = g.rename(columns={"count": "cases", "mean": "dice_mean"})
    g["dice_mean"] = g["dice_mean"].round(3)
    rank = {"transfer": order.get, "test_set": lambda t: (t != IN_DISTRIBUTION, t)}

    def key(column: pd.Series) -> pd.Series:
        return column.map(rank[column.name]) if column.name in rank else column

    return g.sort_values(["method", "test_set", "transfer"], key=key).reset_index(drop=True)
