"""Ranking figures after challengeR (Wiesenfarth et al., Sci. Rep. 2021): blob plots and significance maps.

One panel per ranking task shown: every transfer type (its domains pooled) and, where a transfer type has more
than one target domain, each of its domains (a single domain would repeat its transfer type's panel).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from crosspan.evaluation.ranking import Ranking
from crosspan.report.figures import _small_fonts, _style, method_colors, png

SIG_COLORS = ListedColormap(["#dfe7f2", "#f2b134"])  # not significant, significantly better


def shown_tasks(ranks: pd.DataFrame) -> list[str]:
    """Task names drawn: transfer types, then domains of transfer types with more than one domain."""
    if ranks.empty:
        return []
    per = ranks[ranks["level"] == "domain"].groupby("transfer")["domain"].nunique()
    keep = (ranks["level"] == "transfer") | ranks["transfer"].map(lambda t: per.get(t, 0) > 1)
    return list(dict.fromkeys(ranks.loc[keep, "task"]))


def _label(method: str, oracle: bool) -> str:
    return f"{method}\n(oracle)" if oracle else method


def _grid(n: int, w: float, h: float) -> tuple[Figure, np.ndarray]:
    ncol = min(4, n)
    nrow = int(np.ceil(n / ncol))
    fig = Figure(figsize=(w * ncol, h * nrow))
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


def _tau_text(tau: pd.DataFrame, task: str) -> str:
    row = tau[(tau["task"] == task) & (tau["scheme"] == "aggregate-then-rank")]
    if row.empty or not np.isfinite(row["tau_median"].iat[0]):
        return "tau: needs >= 2 distinct rankings"
    r = row.iloc[0]
    return f"Kendall tau {r['tau_median']:.2f} [{r['tau_low']:.2f}, {r['tau_high']:.2f}] ({r['bootstrap']})"


@_small_fonts
def blob_plot(ranking: Ranking) -> bytes | None:
    """Method x rank: dot area = bootstrap frequency of that rank, black bar = 95 % interval, x = median rank."""
    names = shown_tasks(ranking.ranks)
    if not names:
        return None
    colors = method_colors(sorted(ranking.ranks["method"].unique()))
    m_max = int(ranking.ranks.groupby("task")["method"].nunique().max())
    fig, axes = _grid(len(names), max(2.8, 0.75 * m_max + 1.2), max(2.8, 0.45 * m_max + 1.6))
    for ax, task in zip(axes, names, strict=False):
        r = ranking.ranks[ranking.ranks["task"] == task].sort_values(["rank_aggregate", "method"])
        b = ranking.blobs[ranking.blobs["task"] == task]
        pos = {m: i for i, m in enumerate(r["method"])}
        ax.scatter(b["method"].map(pos), b["rank"], s=b["frequency"] * 320, c=[colors[m] for m in b["method"]],
                   alpha=0.85, lw=0)
        x = np.arange(len(r))
        ax.vlines(x, r["boot_rank_low"], r["boot_rank_high"], color="black", lw=1.2)
        ax.scatter(x, r["boot_median_rank"], marker="x", color="black", s=30, lw=1.2, zorder=3)
        ax.set_xticks(x, [_label(m, o) for m, o in zip(r["method"], r["oracle"], strict=True)], rotation=30,
                      ha="right")
        ax.set_yticks(range(1, len(r) + 1))
        ax.set_ylim(len(r) + 0.6, 0.4)
        ax.set_xlim(-0.6, len(r) - 0.4)
        ax.set_ylabel("rank (1 = best)")
        ax.set_title(f"{task} ({r['n_cases'].iat[0]} cases)\n{_tau_text(ranking.tau, task)}", fontsize=8.5)
        _style(ax)
    fig.tight_layout()
    return png(fig)


@_small_fonts
def significance_maps(ranking: Ranking) -> bytes | None:
    """Rows significantly better than columns (one-sided Wilcoxon, Holm) in orange; methods in rank order."""
    names = shown_tasks(ranking.ranks)
    if not names or ranking.significance.empty:
        return None
    m_max = int(ranking.ranks.groupby("task")["method"].nunique().max())
    side = max(2.6, 0.55 * m_max + 1.4)
    fig, axes = _grid(len(names), side + 0.3, side)
    for ax, task in zip(axes, names, strict=False):
        r = ranking.ranks[ranking.ranks["task"] == task].sort_values(["rank_aggregate", "method"])
        order = list(r["method"])
        s = ranking.significance[ranking.significance["task"] == task]
        grid = s.pivot(index="method_a", columns="method_b", values="significant").reindex(index=order,
                                                                                           columns=order)
        cells = grid.to_numpy(dtype=float)
        ax.imshow(np.ma.masked_invalid(cells), cmap=SIG_COLORS, vmin=0, vmax=1)
        for (i, j), v in np.ndenumerate(cells):
            if i == j:
                ax.add_patch(_diag(i))
            elif v == 1:
                ax.text(j, i, "✓", ha="center", va="center", fontsize=9, color="black")
        labels = [_label(m, o).replace("\n", " ") for m, o in zip(r["method"], r["oracle"], strict=True)]
        ax.set_xticks(range(len(order)), labels, rotation=35, ha="right")
        ax.set_yticks(range(len(order)), labels)
        ax.set_xlabel("is worse: column")
        ax.set_ylabel("is better: row")
        ax.set_title(f"{task} ({r['n_cases'].iat[0]} cases)", fontsize=8.5)
    fig.tight_layout()
    return png(fig)


def _diag(i: int):  # noqa: ANN202 (matplotlib Rectangle)
    from matplotlib.patches import Rectangle

    return Rectangle((i - 0.5, i - 0.5), 1, 1, color="#bdbdbd", lw=0)
