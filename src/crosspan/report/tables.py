"""Readable tables from the analysis, rendered to HTML, Markdown and LaTeX."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

#: Cell texts that HTML shows as a coloured badge.
BADGES = {"oracle": "oracle", "below detectable": "warn", "yes": "ok", "skipped": "muted"}


def _num(v: Any, digits: int = 3) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return "–" if not np.isfinite(f) else f"{f:.{digits}f}"


def _ci(row: pd.Series, m: str, digits: int = 3) -> str:
    if f"{m}_mean" not in row or not np.isfinite(row[f"{m}_mean"]):
        return "–"
    return f"{row[f'{m}_mean']:.{digits}f} [{row[f'{m}_ci_low']:.{digits}f}, {row[f'{m}_ci_high']:.{digits}f}]"


def _p(v: float) -> str:
    return "–" if not np.isfinite(v) else ("<0.001" if v < 0.001 else f"{v:.3f}")


def aggregate_table(agg: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean [95 % CI] of Dice (and NSD, HD95 when present) per group, with n, SD, median and oracle badge."""
    rows = []
    for _, r in agg.iterrows():
        row = {k.capitalize(): r[k] for k in keys}
        row.update({"n rows (patients)": f"{r['n']} ({r['n_patients']})", "Runs": r["n_runs"],
                    "Dice mean [95 % CI]": _ci(r, "dice"), "Dice SD": _num(r["dice_sd"]),
                    "Dice median": _num(r["dice_median"])})
        if "nsd_mean" in r:
            row["NSD mean [95 % CI]"] = _ci(r, "nsd")
        if "hd95_median" in r:
            row["HD95 median (mm)"] = _num(r["hd95_median"], 1)
        row["Oracle"] = "oracle" if r["oracle"] else ""
        rows.append(row)
    return pd.DataFrame(rows)


def gap_table(gaps: pd.DataFrame) -> pd.DataFrame:
    if gaps.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "Method": gaps["method"], "Domain": gaps["domain"], "Transfer": gaps["transfer"],
        "n ref / n domain": [f"{a} / {b}" for a, b in zip(gaps["n_reference"], gaps["n_domain"], strict=True)],
        "Gap (ref − domain)": gaps["gap"].map(_num), "Smallest detectable": gaps["detectable_gap"].map(_num),
        "Flag": np.where(gaps["below_detectable"], "below detectable", ""),
    })


def paired_table(paired: pd.DataFrame) -> pd.DataFrame:
    if paired.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "Transfer": paired["transfer"], "A": paired["method_a"], "B": paired["method_b"], "n": paired["n_cases"],
        "Mean Δ (A−B)": paired["mean_diff"].map(_num), "A wins": paired["win_rate_a"].map(lambda v: f"{v:.0%}"),
        "B wins": paired["win_rate_b"].map(lambda v: f"{v:.0%}"), "p": paired["p"].map(_p),
        "p (Holm)": paired["p_holm"].map(_p), "Significant": np.where(paired["significant"], "yes", ""),
    })


def skipped_table(skipped: pd.DataFrame) -> pd.DataFrame:
    if skipped.empty:
        return pd.DataFrame()
    out = skipped.dropna(axis=1, how="all").rename(columns=str.capitalize).copy()
    out["Status"] = "skipped"
    return out


def to_html(df: pd.DataFrame) -> str:
    """A plain ``<table>``; cells from :data:`BADGES` become badges, numbers align right."""
    if df.empty:
        return '<p class="muted">Nothing to show.</p>'
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for _, row in df.iterrows():
        cells = []
        for v in row:
            text = "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
            if text in BADGES:
                cells.append(f'<td><span class="badge {BADGES[text]}">{html.escape(text)}</span></td>')
            else:
                num = text.replace(".", "", 1).replace("-", "", 1).replace("<", "").rstrip("%").isdigit()
                cells.append(f'<td class="{"num" if num else ""}">{html.escape(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def to_markdown(df: pd.DataFrame) -> str:
    if df.empty:
        return "_Nothing to show._\n"
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines) + "\n"


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "−": "-", "Δ": r"$\Delta$",
        "<": r"\textless{}", "–": "--"}


def tex_escape(text: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in text)


def to_latex(df: pd.DataFrame, caption: str) -> str:
    """A booktabs ``table`` environment."""
    if df.empty:
        return f"% {tex_escape(caption)}: nothing to show\n"
    spec = "l" * len(df.columns)
    lines = [r"\begin{table}[t]", r"\centering\small", f"\\caption{{{tex_escape(caption)}}}",
             f"\\begin{{tabular}}{{{spec}}}", r"\toprule",
             " & ".join(tex_escape(str(c)) for c in df.columns) + r" \\", r"\midrule"]
    lines += [" & ".join(tex_escape(str(v)) for v in row) + r" \\" for _, row in df.iterrows()]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)
