"""Training curves of a benchmark (``training.eval_every``) as a markdown table for BENCHMARKS.md: mean Dice of each
scored checkpoint on the validation cases, per method x protocol x label ratio, with the test cases' mean beside it
marked oracle (reading the test curve to pick a step is test-set model selection). Where the validation Dice stops
rising is the step count a converged benchmark needs (issue #19)."""

from __future__ import annotations

import pandas as pd

#: what one curve is: its rows are checkpoints, its cells the mean over every seed's cases
CURVE_BY = ("method", "protocol", "label_ratio")


def curve_table(checkpoints: pd.DataFrame, metric: str = "dice") -> pd.DataFrame:
    """One row per checkpoint step; per curve a ``val`` and a ``test (oracle)`` column of mean ``metric`` over the
    cases of every seed (``n_seeds`` of them at that step), and the number of scored cases per column."""
    by = [k for k in CURVE_BY if k in checkpoints.columns]
    df = checkpoints.dropna(subset=[metric])
    grouped = df.groupby([*by, "split", "checkpoint"], sort=True)
    stats = grouped[metric].mean().rename("mean").to_frame()
    stats["n"] = grouped[metric].size()
    stats["seeds"] = grouped["seed"].nunique() if "seed" in df.columns else 1
    out: dict[str, pd.Series] = {}
    groups = stats.reset_index().groupby([*by, "split"], sort=True)
    for key, g in sorted(groups, key=lambda kg: (kg[0][:-1], kg[0][-1] != "val")):  # val before test
        *label, split = key
        name = " ".join(_label(by, label)) + (" val" if split == "val" else " test (oracle)")
        g = g.set_index("checkpoint")
        out[name] = g["mean"]
        out[f"_n {name}"] = g["n"]
        out[f"_seeds {name}"] = g["seeds"]
    return pd.DataFrame(out).rename_axis("step").sort_index()


def _label(by: list[str], values: list[object]) -> list[str]:
    parts = []
    for key, value in zip(by, values, strict=True):
        parts.append(f"{round(float(str(value)) * 100)} %" if key == "label_ratio" else str(value))
    return parts


def curve_markdown(checkpoints: pd.DataFrame, metric: str = "dice") -> str:
    """:func:`curve_table` as a GitHub markdown table under a heading; headers carry the cases (n) and seeds."""
    table = curve_table(checkpoints, metric)
    if table.empty:
        return ""
    cols = [c for c in table.columns if not c.startswith("_")]
    heads = [f"{c} (n={int(table[f'_n {c}'].max())}, seeds={int(table[f'_seeds {c}'].max())})" for c in cols]
    lines = ["| step | " + " | ".join(heads) + " |", "|---|" + "---|" * len(cols)]
    for step, row in table.iterrows():
        cells = ["" if pd.isna(row[c]) else f"{row[c]:.3f}" for c in cols]
        lines.append(f"| {int(step)} | " + " | ".join(cells) + " |")
    return (f"### Training curves: mean {metric} of every scored checkpoint\n\n"
            "Validation: the split's validation cases of the scored domains (`training.eval_domains`); test "
            "columns are oracle information (choosing a step on them is test-set model selection).\n\n"
            + "\n".join(lines) + "\n")


__all__ = ["CURVE_BY", "curve_markdown", "curve_table"]
