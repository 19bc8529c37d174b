"""Markdown table of the DG cohort results: mean Dice [95% patient-clustered bootstrap CI] per method for
in-domain (A/B T1), cross-center (C T1), T1->T2 and T1->OOP (all centers), from `crosspan evaluate` CSVs.

    .venv/bin/python benchmarks/dg_cohort_table.py runs/dg_cohort/results/*.csv
"""

from __future__ import annotations

import sys

import pandas as pd

from crosspan.evaluation.stats import aggregate, load_results
from crosspan.methods.base import table_order


def column(row: pd.Series) -> str:
    if row["sequence"] != "T1":
        return f"T1->{row['sequence']}"
    return "in-domain" if row["transfer"] == "in-domain" else "cross-center"


def main(paths: list[str]) -> str:
    df, _ = load_results(paths)
    df["column"] = df.apply(column, axis=1)
    agg = aggregate(df, ["method", "column"], metrics=["dice"], n_boot=2000, seed=0)
    cols = ["in-domain", "cross-center", "T1->T2", "T1->OOP"]
    n = {c: int(agg[agg["column"] == c]["n"].max()) for c in cols if (agg["column"] == c).any()}
    head = "| method | " + " | ".join(f"{c} (n={n.get(c, 0)})" for c in cols) + " |"
    lines = [head, "|---" * (len(cols) + 1) + "|"]
    methods = table_order(set(agg["method"]))  # the registry's order (family, then each class's table_order)
    for m in methods:
        cells = []
        for c in cols:
            r = agg[(agg["method"] == m) & (agg["column"] == c)]
            if r.empty:
                cells.append("-")
            else:
                r = r.iloc[0]
                cells.append(f"{r['dice_mean']:.3f} [{r['dice_ci_low']:.3f}, {r['dice_ci_high']:.3f}]")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main(sys.argv[1:]))
