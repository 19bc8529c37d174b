"""Markdown table of the label-map cohort results (benchmarks/labelmap_cohort.sh): mean Dice [95% patient-clustered
bootstrap CI] per method on T1, T2 and OOP, in-center (test patients of the training centers A, B) and
cross-center (center C), plus all centers per sequence and the spread (best minus worst sequence mean).

    .venv/bin/python benchmarks/labelmap_cohort_table.py runs/labelmap_cohort/results/*.csv
"""

from __future__ import annotations

import sys

import pandas as pd

from crosspan.evaluation.stats import aggregate, load_results

ORDER = ["physics-rand", "synthseg", "erm", "contrast-inversion", "physics-rand-fastdraw",
         "physics-rand-fastdraw-patchnorm"]
SEQS = ["T1", "T2", "OOP"]


def cell(agg: pd.DataFrame, method: str, column: str) -> str:
    r = agg[(agg["method"] == method) & (agg["column"] == column)]
    if r.empty:
        return "-"
    r = r.iloc[0]
    return f"{r['dice_mean']:.3f} [{r['dice_ci_low']:.3f}, {r['dice_ci_high']:.3f}]"


def main(paths: list[str], source_centers: tuple[str, ...] = ("A", "B")) -> str:
    df, _ = load_results(paths)
    where = df["center"].isin(source_centers).map({True: "in-center", False: "cross-center"})
    parts = [df.assign(column=df["sequence"] + " " + where), df.assign(column=df["sequence"] + " all")]
    agg = aggregate(pd.concat(parts, ignore_index=True), ["method", "column"], metrics=["dice"], n_boot=2000, seed=0)
    cols = [f"{s} {w}" for s in SEQS for w in ("in-center", "cross-center")]
    n = {c: int(agg[agg["column"] == c]["n"].max()) for c in cols + [f"{s} all" for s in SEQS]
         if (agg["column"] == c).any()}
    head = ("| method | " + " | ".join(f"{c} (n={n.get(c, 0)})" for c in cols) + " | "
            + " | ".join(f"{s} all (n={n.get(s + ' all', 0)})" for s in SEQS) + " | spread |")
    lines = [head, "|---" * (len(cols) + len(SEQS) + 2) + "|"]
    methods = [m for m in ORDER if m in set(agg["method"])] + sorted(set(agg["method"]) - set(ORDER))
    for m in methods:
        means = [agg[(agg["method"] == m) & (agg["column"] == f"{s} all")]["dice_mean"] for s in SEQS]
        means = [float(v.iloc[0]) for v in means if not v.empty]
        spread = f"{max(means) - min(means):.3f}" if len(means) == len(SEQS) else "-"
        cells = [cell(agg, m, c) for c in cols] + [cell(agg, m, f"{s} all") for s in SEQS]
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {spread} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main(sys.argv[1:]))
