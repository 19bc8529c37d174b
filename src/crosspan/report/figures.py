"""Report figures drawn with matplotlib's object API (Agg canvas, no pyplot state), returned as PNG bytes."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from crosspan.evaluation.stats import TRANSFERS, matrix_pivot

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

PALETTE = ["#3b6fb6", "#e07b39", "#3a9e6f", "#c9463d", "#8c62aa", "#8c6d31", "#d36fae", "#6b7b8c"]
TRANSFER_COLORS = {"in-domain": "#e8f1fb", "cross-center": "#fff4e0", "cross-sequence": "#fde8e8",
                   "cross-both": "#f1e8fb", "unknown": "#f2f2f2"}
DPI = 110
F = TypeVar("F", bound=Callable[..., Any])
RC: dict[RcKeyType, Any] = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "xtick.labelsize": 8.5,
                            "ytick.labelsize": 8.5}


def _small_fonts(fn: F) -> F:
    """Draw with the report's font sizes (rcParams are read when artists are created)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with matplotlib.rc_context(RC):
            return fn(*args, **kwargs)

    return cast(F, wrapper)


def _style(ax) -> None:  # noqa: ANN001 (matplotlib Axes)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e5e5e5", lw=0.8)
    ax.set_axisbelow(True)


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    return buf.getvalue()


def method_colors(methods: list[str]) -> dict[str, str]:
    return {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(sorted(methods))}


def domain_order(df: pd.DataFrame) -> list[str]:
    """Target domains ordered by their most common transfer type, then by name."""
    rank = {t: i for i, t in enumerate(TRANSFERS)}
    kind = df.groupby("domain")["transfer"].agg(lambda s: s.mode().iat[0])
    return sorted(kind.index, key=lambda d: (rank.get(kind[d], 9), d))


@_small_fonts
def heatmap(matrix: pd.DataFrame, oracle_methods: set[str], order: list[str] | None = None) -> bytes:
    """Train domains (per method) x test domain mean Dice, annotated; columns in ``order`` when given."""
    piv = matrix_pivot(matrix)
    if order:
        piv = piv[[d for d in order if d in piv.columns]]
    labels = [f"{r} (oracle)" if r.split(" | ")[0] in oracle_methods else r for r in piv.index]
    fig = Figure(figsize=(1.6 + 1.05 * piv.shape[1] + 0.06 * max(map(len, labels)), 0.9 + 0.5 * piv.shape[0]))
    ax = fig.add_subplot()
    im = ax.imshow(piv.to_numpy(float), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(piv.shape[1]), piv.columns, rotation=30, ha="right")
    ax.set_yticks(range(piv.shape[0]), labels)
    for (i, j), v in np.ndenumerate(piv.to_numpy(float)):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8.5, color="white" if v < 0.6 else "black")
    ax.set_xlabel("test domain (center:sequence)")
    ax.set_ylabel("method | training domains")
    fig.colorbar(im, ax=ax, label="mean Dice", fraction=0.04, pad=0.02)
    return png(fig)


@_small_fonts
def domain_boxes(df: pd.DataFrame, seed: int = 0) -> bytes:
    """Per-case Dice (runs averaged per case) by target domain, one box + strip per method."""
    per_case = df.groupby(["method", "domain", "case_id"], sort=True)["dice"].mean().reset_index()
    domains = domain_order(df)
    methods = sorted(per_case["method"].unique())
    colors = method_colors(methods)
    width = 0.8 / len(methods)
    fig = Figure(figsize=(max(6.5, 1.1 + 0.45 * len(domains) * len(methods) + 0.5 * len(domains)), 3.8))
    ax = fig.add_subplot()
    gen = np.random.default_rng(seed)
    kind = df.groupby("domain")["transfer"].agg(lambda s: s.mode().iat[0])
    for j, d in enumerate(domains):
        ax.axvspan(j - 0.5, j + 0.5, color=TRANSFER_COLORS.get(kind[d], "#fff"), zorder=0, lw=0)
        for i, m in enumerate(methods):
            v = per_case.loc[(per_case["domain"] == d) & (per_case["method"] == m), "dice"].dropna().to_numpy()
            if v.size == 0:
                continue
            x = j - 0.4 + width * (i + 0.5)
            ax.boxplot([v], positions=[x], widths=width * 0.8, showfliers=False, patch_artist=True,
                       boxprops={"facecolor": colors[m] + "40", "edgecolor": colors[m]},
                       medianprops={"color": colors[m], "lw": 2}, whiskerprops={"color": colors[m]},
                       capprops={"color": colors[m]})
            ax.scatter(x + gen.uniform(-width * 0.3, width * 0.3, v.size), v, s=9, color=colors[m], alpha=0.6,
                       lw=0, zorder=3)
    ax.set_xticks(range(len(domains)), [f"{d}\n{kind[d]}" for d in domains], fontsize=8)
    ax.set_xlim(-0.5, len(domains) - 0.5)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("Dice per case")
    _style(ax)
    ax.legend(handles=[ax.scatter([], [], color=colors[m], label=m) for m in methods], loc="lower center",
              bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize=8, ncols=min(6, len(methods)))
    return png(fig)


def _coef(name: str, c: dict[str, float], key: str, n: int) -> str:
    """``r = 0.85 [0.40, 0.97]``, or in words what is missing (never ``nan``)."""
    if n < 3:
        return f"{name}: needs >= 3 runs"
    if not np.isfinite(c[key]):
        return f"{name}: undefined (no spread across runs)"
    ci = (f"[{c['ci_low']:.2f}, {c['ci_high']:.2f}]" if np.isfinite(c["ci_low"]) and np.isfinite(c["ci_high"])
          else "(CI needs >= 4 runs)" if n < 4 else "(no CI)")
    return f"{name} = {c[key]:.2f} {ci}"


def correlation_text(t: dict[str, Any]) -> str:
    """Pearson r and Spearman rho of one target with CIs, or what they need ("needs >= 3 runs")."""
    n = int(t["n_runs"])
    if n < 3:
        return f"r, rho: needs >= 3 runs (has {n})"
    return f"{_coef('r', t['pearson'], 'r', n)}, {_coef('rho', t['spearman'], 'rho', n)}"


@_small_fonts
def correlation_scatter(corr: dict[str, Any]) -> bytes | None:
    """In-domain vs cross-domain mean Dice per run with the least-squares line and r / rho with CIs."""
    targets = corr.get("targets", {})
    if not targets:
        return None
    fig = Figure(figsize=(4.3 * len(targets), 3.9))
    methods = sorted({p["method"] for t in targets.values() for p in t["points"]})
    colors = method_colors(methods)
    for k, (name, t) in enumerate(targets.items()):
        ax = fig.add_subplot(1, len(targets), k + 1)
        pts = pd.DataFrame(t["points"])
        for m, g in pts.groupby("method"):
            orc = bool(g["oracle"].any())
            ax.scatter(g["source"], g["target"], s=30, alpha=0.85, label=m + (" (oracle, not in fit)" if orc else ""),
                       facecolor="white" if orc else colors[m], edgecolor=colors[m], lw=1.5)
        slope, icpt = t["fit"]["slope"], t["fit"]["intercept"]
        if np.isfinite(slope):
            fitted = pts[~pts["oracle"]]
            xs = np.linspace(fitted["source"].min(), fitted["source"].max(), 10)
            ax.plot(xs, slope * xs + icpt, color="#444", lw=1.2, ls="--")
        ax.set_title(f"{name}, {t['n_runs']} runs\n{correlation_text(t)}", fontsize=9)
        ax.set_xlabel("in-domain mean Dice (run)")
        ax.set_ylabel(f"{name} mean Dice (run)")
        _style(ax)
        if k == 0:
            ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return png(fig)


@_small_fonts
def sample_size_curve(variance: pd.DataFrame) -> bytes | None:
    """SD of the mean Dice versus test size n, per method (panels) and target domain (lines); None when no domain
    has an SD (one case each)."""
    variance = variance.dropna(subset=["sd_mean_dice"]) if not variance.empty else variance
    if variance.empty:
        return None
    methods = sorted(variance["method"].unique())
    domains = sorted(variance["domain"].unique())
    colors = {d: PALETTE[i % len(PALETTE)] for i, d in enumerate(domains)}
    ncol = min(3, len(methods))
    nrow = int(np.ceil(len(methods) / ncol))
    fig = Figure(figsize=(4.0 * ncol, 3.2 * nrow))
    axes = fig.subplots(nrow, ncol, squeeze=False, sharey=True)
    fig.subplots_adjust(wspace=0.08)
    for ax, m in zip(axes.ravel(), methods, strict=False):
        for d, g in variance[variance["method"] == m].groupby("domain"):
            ax.plot(g["n"], g["sd_mean_dice"], marker="o", ms=3, color=colors[d], label=d)
            last = g.iloc[-1]
            ax.scatter([last["n"]], [last["sd_mean_dice"]], s=40, facecolor="white", edgecolor=colors[d], zorder=3)
        ax.set_xscale("log")
        n_max = variance.loc[variance["method"] == m, "n"].max()
        ticks = [t for t in (2, 5, 10, 20, 50, 100, 200, 500, 1000) if t <= n_max]
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(m, fontsize=10)
        ax.set_xlabel("test cases n (log)")
        _style(ax)
    for ax in axes[:, 0]:
        ax.set_ylabel("SD of mean Dice")
    for ax in axes.ravel()[len(methods):]:
        ax.set_visible(False)
    axes.ravel()[0].legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return png(fig)
