"""Transfer over training: mean Dice versus training step, one panel per method, one line per domain and split."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from crosspan.report.figures import PALETTE, _small_fonts, _style, png


@_small_fonts
def training_curves(curves: pd.DataFrame, picks: pd.DataFrame | None = None) -> bytes | None:
    """Validation lines solid, test lines dashed (oracle for selection); runs averaged per step.

    ``picks`` (from :func:`crosspan.evaluation.checkpoints.selections`) adds a marker at each rule's checkpoint.
    None when no method has two or more checkpoints.
    """
    if curves.empty:
        return None
    steps = curves.groupby("method")["checkpoint"].nunique()
    methods = sorted(steps.index[steps >= 2])
    if not methods:
        return None
    mean = curves.groupby(["method", "domain", "split", "checkpoint"], sort=True)["mean_dice"].mean().reset_index()
    domains = sorted(mean["domain"].unique())
    colors = {d: PALETTE[i % len(PALETTE)] for i, d in enumerate(domains)}
    ncol = min(3, len(methods))
    nrow = int(np.ceil(len(methods) / ncol))
    fig = Figure(figsize=(4.2 * ncol, 3.3 * nrow))
    axes = fig.subplots(nrow, ncol, squeeze=False, sharey=True).ravel()
    for ax, m in zip(axes, methods, strict=False):
        for (d, split), g in mean[mean["method"] == m].groupby(["domain", "split"], sort=True):
            test = split == "test"
            ax.plot(g["checkpoint"], g["mean_dice"], ls="--" if test else "-", marker="o", ms=3, color=colors[d],
                    mfc="white" if test else colors[d], label=f"{d} {'test (oracle)' if test else 'val'}")
        if picks is not None and not picks.empty:
            for rule, marker in (("training-domain", "v"), ("leave-one-domain-out", "^")):
                for ck in picks.loc[(picks["method"] == m) & (picks["rule"] == rule), "checkpoint"].unique():
                    ax.axvline(ck, color="#555", lw=0.8, ls=":")
                    ax.scatter([ck], [1.0], marker=marker, color="#333", s=28, clip_on=False,
                               label=f"picked by {rule}")
        ax.set_title(m, fontsize=10)
        ax.set_xlabel("training step")
        ax.set_ylim(-0.02, 1.02)
        _style(ax)
        handles, labels = ax.get_legend_handles_labels()
        seen = dict(zip(labels, handles, strict=True))
        ax.legend(seen.values(), seen.keys(), frameon=False, fontsize=7, loc="lower right")
    for ax in axes[:: ncol]:
        ax.set_ylabel("mean Dice")
    for ax in axes[len(methods):]:
        ax.set_visible(False)
    fig.tight_layout()
    return png(fig)
