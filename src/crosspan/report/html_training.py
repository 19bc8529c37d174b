"""The report's "Transfer over training" section: Dice versus step and what each selection rule picks."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from crosspan.evaluation.checkpoints import GROUP_KEYS, selections, training_curves
from crosspan.report import figures_training
from crosspan.report.html_parts import figures_img, section
from crosspan.report.tables import to_html

WHAT = ("mean Dice of every scored checkpoint (runs averaged per step) on validation cases (solid) and test cases "
        "(dashed). Choosing the checkpoint by its test Dice is oracle model selection (it peeks at the test "
        "labels), so the table gives the test Dice of the checkpoint each rule picks: <i>training-domain</i> "
        "(validation cases of the training domains), <i>leave-one-domain-out</i> (validation cases of a source "
        "domain the run left out) and <i>oracle</i> (test cases, last checkpoint of each run, after DomainBed), "
        "badged <span class=\"badge oracle\">oracle</span>.")


def selection_table(sel: pd.DataFrame) -> pd.DataFrame:
    """Readable picks: method, rule, run, step, selection score, test Dice per transfer type, oracle badge."""
    if sel.empty:
        return pd.DataFrame()
    extra = {k.replace("_", " ").capitalize(): sel[k] for k in GROUP_KEYS[1:] if k in sel.columns}
    return pd.DataFrame({
        "Method": sel["method"], **extra, "Rule": sel["rule"], "Run": sel["run"], "Step": sel["checkpoint"],
        "Selection score": sel["selection_score"].map(lambda v: f"{v:.3f}"), "Transfer": sel["transfer"],
        "Test Dice": sel["test_dice"].map(lambda v: "–" if not np.isfinite(v) else f"{v:.3f}"),
        "n test": sel["n_test"], "Oracle": np.where(sel["oracle"], "oracle", ""),
    })


def training_section(checkpoints: pd.DataFrame | None) -> tuple[str, pd.DataFrame | None]:
    """The HTML section and the selection table (for report.md / .tex); ``("", None)`` without a table."""
    if checkpoints is None:
        return "", None
    curves = training_curves(checkpoints)
    sel, notes = selections(checkpoints)
    table = selection_table(sel)
    note = "".join(f'<p class="muted">Not selected by {html.escape(n)}.</p>' for n in notes)
    body = (figures_img(figures_training.training_curves(curves, sel), "transfer over training",
                        "Needs >= 2 scored checkpoints of a method.") + to_html(table) + note)
    return section("training", "Transfer over training", WHAT, body), table
