"""Model selection rules, named as in DomainBed (Gulrajani & Lopez-Paz, ICLR 2021, sec. 3).

- ``training-domain``: score each candidate (run, checkpoint) by its mean metric on validation cases of its own
  training domains (rows with ``transfer == in-domain``); pick the best per group.
- ``leave-one-domain-out``: score by validation cases of a *held-out source* domain, i.e. validation rows whose
  domain is not among the run's training domains (the run left that domain out); pick the best per group.
- ``oracle``: score by the test cases themselves, using only the last checkpoint of each run (no early
  stopping, as DomainBed's test-domain validation). It peeks at the test labels, so its pick is ``oracle=True``
  and must be reported as such.

Validation rows are those with ``split == "val"`` and test rows those with ``split == "test"`` when a ``split``
column exists; otherwise all rows are used.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from crosspan.core.errors import CrosspanError

RULES = ("training-domain", "leave-one-domain-out", "oracle")


def _rows(table: pd.DataFrame, split: str) -> pd.DataFrame:
    return table[table["split"].astype(str) == split] if "split" in table.columns else table


def select_model(table: pd.DataFrame, rule: str, by: Sequence[str] = ("method",), metric: str = "dice",
                 run_col: str = "run", checkpoint_col: str = "checkpoint") -> pd.DataFrame:
    """Pick one (run, checkpoint) per group of ``by`` with ``rule``; returns group keys, run, checkpoint, score."""
    if rule not in RULES:
        raise CrosspanError(None, f"unknown selection rule {rule!r}", f"use one of {', '.join(RULES)}")
    table = table.copy()
    if checkpoint_col not in table.columns:
        table[checkpoint_col] = 0
    if rule == "oracle":
        rows = _rows(table, "test")
        last = rows.groupby([*by, run_col])[checkpoint_col].transform("max")
        rows = rows[rows[checkpoint_col] == last]
    else:
        rows = _rows(table, "val")
        in_domain = rows["transfer"] == "in-domain"
        rows = rows[in_domain] if rule == "training-domain" else rows[~in_domain & (rows["transfer"] != "unknown")]
    if rows.empty:
        raise CrosspanError(None, f"no rows to score for rule {rule!r}",
                            "add validation rows (split=val) of training or held-out domains")
    scores = rows.groupby([*by, run_col, checkpoint_col], sort=True)[metric].agg(["mean", "count"]).reset_index()
    best = scores.loc[scores.groupby(list(by))["mean"].idxmax()].rename(columns={"mean": "score", "count": "n"})
    best.insert(len(by), "rule", rule)
    best["oracle"] = rule == "oracle"
    return best.reset_index(drop=True)
