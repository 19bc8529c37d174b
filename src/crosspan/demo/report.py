"""The demo's report: the benchmark's results with overlay montages of the first method's predictions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from crosspan.bench.jobs import JobPlan
from crosspan.core.errors import CrosspanError


def demo_report(plan: JobPlan, results_csv: Path, output: Path) -> Path:
    """Run ``crosspan report`` with the catalog and the first method's predictions (for the montages)."""
    jobs = plan.method_jobs
    first = jobs[0]
    catalog = next(s.args[1] for s in first.steps if s.name == "evaluate")  # `evaluate CATALOG --pred ...`
    argv = [sys.executable, "-m", "crosspan.cli", "report", str(results_csv), "-o", str(output),
            "--catalog", catalog, "--pred-dir", str(first.path / "pred"), "--montage-method", first.info["method"],
            "--title", "crosspan demo: synthetic cohort, trained on T1 at centers A and B"]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise CrosspanError(output, f"the report failed ({tail})", "rerun `crosspan demo`; the results are kept")
    return output


def transfer_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean Dice per method and transfer type (the demo's headline)."""
    order = {"in-domain": 0, "cross-center": 1, "cross-sequence": 2, "cross-both": 3}
    g = table.groupby(["method", "transfer"])["dice"].agg(["count", "mean"]).reset_index()
    g = g.rename(columns={"count": "cases", "mean": "dice_mean"})
    g["dice_mean"] = g["dice_mean"].round(3)
    return g.sort_values(["method", "transfer"], key=lambda s: s.map(order) if s.name == "transfer" else s)
