"""Transfer over training: Dice of every scored checkpoint, and the model each selection rule picks.

The papers' own code (NUBagciLab/nnUNetDG, ``infer_pancreas_epochs.sh``) scores every 100-epoch checkpoint on the
target domains: cross-sequence Dice moves a lot during training, so quoting the best checkpoint *on the test
cases* is oracle model selection. A checkpoint table is a per-case results table (``crosspan evaluate`` format)
with two more columns: ``checkpoint`` (the training step) and ``split`` (``val``: validation cases, ``test``:
test cases). Rows of test cases are oracle information for model selection: :func:`training_curves` marks them
``oracle``, and the ``oracle`` rule of :mod:`crosspan.evaluation.stats_selection` is badged as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from crosspan.core.errors import CrosspanError
from crosspan.evaluation.stats import load_results
from crosspan.evaluation.stats_selection import RULES, select_model

CURVE_KEYS = ["method", "run", "seed", "train_domains", "split", "domain", "transfer", "checkpoint"]
#: columns a benchmark's checkpoint table adds; a selection picks one model per combination of those present
GROUP_KEYS = ("method", "protocol", "protocol_split", "label_ratio")


def load_checkpoint_table(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Read checkpoint tables; each needs the results columns plus ``checkpoint`` and ``split``."""
    df, _ = load_results(paths)
    missing = [c for c in ("checkpoint", "split") if c not in df.columns]
    if missing:
        raise CrosspanError(", ".join(map(str, paths)), f"not a checkpoint table (missing {', '.join(missing)})",
                            "pass the checkpoints.csv that `crosspan train --eval-every` writes, or add a "
                            "checkpoint (step) and a split (val/test) column")
    df["checkpoint"] = pd.to_numeric(df["checkpoint"], errors="coerce")
    bad = df["checkpoint"].isna() | ~df["split"].astype(str).isin(("val", "test"))
    if bad.any():
        row = df[bad].iloc[0]
        raise CrosspanError(", ".join(map(str, paths)), f"{int(bad.sum())} row(s) with a non-numeric checkpoint or "
                            f"a split other than val/test (first: case {row['case_id']}, split {row['split']!r})",
                            "write the step as a number and split as val or test")
    df["checkpoint"] = df["checkpoint"].astype(int)
    df["split"] = df["split"].astype(str)
    return df


def training_curves(df: pd.DataFrame, metric: str = "dice") -> pd.DataFrame:
    """Mean ``metric`` per method x run x domain x split x checkpoint; test-split points are ``oracle``."""
    g = df.groupby(CURVE_KEYS, sort=True)[metric]
    out = g.agg(["mean", "count"]).reset_index().rename(columns={"mean": f"mean_{metric}", "count": "n"})
    out["oracle"] = out["split"].eq("test").to_numpy() | df.groupby(CURVE_KEYS, sort=True)["oracle"].any().to_numpy()
    return out


def selections(df: pd.DataFrame, metric: str = "dice") -> tuple[pd.DataFrame, list[str]]:
    """Each rule's pick per method (and benchmark protocol, split, label ratio when the table has them), with the
    picked checkpoint's mean test ``metric`` per transfer type.

    Returns ``(table, notes)``; a rule without rows to score (no held-out validation domain, say) is a note.
    """
    by = [k for k in GROUP_KEYS if k in df.columns]
    picks, notes = [], []
    for rule in RULES:
        try:
            picks.append(select_model(df, rule, by=by, metric=metric))
        except CrosspanError as err:
            notes.append(f"{rule}: {err.problem}")
    if not picks:
        return pd.DataFrame(), notes
    sel = pd.concat(picks, ignore_index=True)
    test = df[df["split"] == "test"]
    rows = []
    for r in sel.to_dict("records"):
        hit = test[(test["method"] == r["method"]) & (test["run"] == r["run"])
                   & (test["checkpoint"] == r["checkpoint"])]
        head = {**{k: r[k] for k in by}, "rule": r["rule"], "run": r["run"], "checkpoint": int(r["checkpoint"]),
                "selection_score": float(r["score"])}
        for transfer, g in hit.groupby("transfer", sort=True):
            rows.append({**head, "transfer": transfer, f"test_{metric}": g[metric].mean(), "n_test": len(g),
                         "oracle": bool(r["oracle"])})
        if hit.empty:
            rows.append({**head, "transfer": "", f"test_{metric}": float("nan"), "n_test": 0,
                         "oracle": bool(r["oracle"])})
    return pd.DataFrame(rows), notes
