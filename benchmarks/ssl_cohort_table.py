"""Markdown table of the SSL cohort results: mean Dice [95% patient-clustered bootstrap CI] per method and label
ratio (result files named ``<method>-r<ratio>``; methods in the registry's table order) for in-domain,
cross-center, T1->T2 and T1->OOP.

    .venv/bin/python benchmarks/ssl_cohort_table.py runs/ssl_cohort/results/*.csv
"""

from __future__ import annotations

import sys

from crosspan.evaluation.stats import aggregate, load_results
from crosspan.methods.base import table_order

COLS = ["in-domain", "cross-center", "T1->T2", "T1->OOP"]


def main(paths: list[str]) -> str:
    df, _ = load_results(paths)
    df["column"] = [f"T1->{s}" if s != "T1" else ("in-domain" if t == "in-domain" else "cross-center")
                    for s, t in zip(df["sequence"], df["transfer"], strict=True)]
    agg = aggregate(df, ["method", "column"], metrics=["dice"], n_boot=2000, seed=0)
    n = {c: int(agg[agg["column"] == c]["n"].max()) for c in COLS if (agg["column"] == c).any()}
    lines = ["| method | labeled % | " + " | ".join(f"{c} (n={n.get(c, 0)})" for c in COLS) + " |",
             "|---" * (len(COLS) + 2) + "|"]
    order = {m: i for i, m in enumerate(table_order({t.rsplit("-r", 1)[0] for t in agg["method"].unique()}))}
    for tag in sorted(agg["method"].unique(), key=lambda t: (order[t.rsplit("-r", 1)[0]], float(t.rsplit("-r", 1)[1]))):
        method, ratio = tag.rsplit("-r", 1)
        cells = []
        for c in COLS:
            row = agg[(agg["method"] == tag) & (agg["column"] == c)]
            if row.empty:
                cells.append("-")
                continue
            r = row.iloc[0]
            cells.append(f"{r['dice_mean']:.3f} [{r['dice_ci_low']:.3f}, {r['dice_ci_high']:.3f}]")
        lines.append(f"| {method} | {ratio} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(main(sys.argv[1:]))
