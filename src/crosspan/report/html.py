"""The report page: one self-contained HTML file (inline CSS, figures as base64 PNG, no script, no external URL)
plus ``report.md`` and ``report.tex`` with the same tables beside it."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from crosspan import __version__
from crosspan.core.atomic import write_text
from crosspan.evaluation.analysis import Analysis
from crosspan.report import figures
from crosspan.report.html_labelmap import labelmap_section
from crosspan.report.html_parts import figures_img, section
from crosspan.report.html_ranking import ranking_section, ranking_tables
from crosspan.report.html_training import training_section
from crosspan.report.style import CSS
from crosspan.report.tables import (
    aggregate_table,
    gap_table,
    paired_table,
    skipped_table,
    to_html,
    to_latex,
    to_markdown,
)

CONVENTION = ("Dice, IoU, precision and recall on binary masks; HD95, ASSD and NSD in millimetres with voxel spacing "
              "in array-axis order, following the DeepMind <code>surface-distance</code> convention (surfel-area "
              "weighted surface distances; HD95 = the larger of the two directed 95th percentiles; ASSD = mean of "
              "the two directed means; NSD = surface Dice at tolerance τ).")
EMPTY_POLICY = ("Empty masks: both empty → Dice 1, distances 0; one empty → Dice 0, NSD 0, distances = the volume "
                "diagonal (flagged).")


def _tolerance(df: pd.DataFrame) -> str:
    if "tolerance_mm" not in df.columns:
        return "τ = 2 mm (default; the table has no tolerance_mm column)"
    vals = sorted(pd.to_numeric(df["tolerance_mm"], errors="coerce").dropna().unique())
    return "τ = " + ", ".join(f"{v:g}" for v in vals) + " mm" if vals else "τ unknown"


def _cards(df: pd.DataFrame) -> str:
    items = [("methods", df["method"].nunique()), ("target domains", df["domain"].nunique()),
             ("test cases", df["case_id"].nunique()), ("patients", df["patient_id"].nunique()),
             ("runs", df[["method", "run", "seed"]].drop_duplicates().shape[0]), ("scored rows", len(df))]
    return '<div class="cards">' + "".join(f'<div class="card"><div class="big">{v}</div><div>{k}</div></div>'
                                           for k, v in items) + "</div>"


def build_report(df: pd.DataFrame, a: Analysis, title: str = "crosspan report", montage: bytes | None = None,
                 montage_note: str = "", sources: Sequence[str] = (),
                 agreement: pd.DataFrame | None = None,
                 checkpoints: pd.DataFrame | None = None) -> tuple[str, str, str]:
    """Return ``(html, markdown, latex)`` of the report."""
    oracle_methods = sorted(df.loc[df["oracle"], "method"].unique())
    t_transfer = aggregate_table(a.by_transfer, ["method", "transfer"])
    t_domain = aggregate_table(a.summary, ["method", "domain", "transfer"])
    t_gaps, t_paired, t_skip = gap_table(a.gaps), paired_table(a.paired), skipped_table(a.skipped)
    n_boot, alpha = a.params.get("n_boot", 2000), float(a.params.get("alpha", 0.05))
    power = float(a.params.get("power", 0.8))
    notes = []
    if oracle_methods:
        notes.append(f'<div class="note oracle"><span class="badge oracle">oracle</span> '
                     f'{html.escape(", ".join(oracle_methods))}: these results use ground-truth-derived information at '
                     "test time (e.g. prompts from the true mask, or test-domain model selection). They are upper "
                     "bounds, not comparable to fully automatic methods.</div>")
    if not t_skip.empty:
        names = ", ".join(sorted(t_skip["Method"].astype(str).unique()))
        notes.append(f'<div class="note skipped"><span class="badge muted">skipped</span> {html.escape(names)}: '
                     "could not run (see the table at the end); they are absent from every statistic.</div>")
    sections = [
        section("transfer", "Performance by transfer type",
                 f"mean Dice per method and transfer type with 95 % bootstrap CIs ({n_boot} replicates) in which "
                 "whole patients are resampled, so several scans of one patient do not narrow the interval.",
                 to_html(t_transfer)),
        section("matrix", "Train × test domain matrix",
                 "mean Dice of each method (and its training domains) on every test domain "
                 "(center:sequence). Bright = good; a dark column is a domain nobody transfers to.",
                 figures_img(figures.heatmap(a.matrix, set(oracle_methods), figures.domain_order(df)),
                             "domain matrix heatmap")),
        section("domains", "Dice per target domain",
                 "one point per test case (runs averaged), box = quartiles, by method; background tint = transfer "
                 "type (blue in-domain, orange cross-center, red cross-sequence, violet cross-both).",
                 figures_img(figures.domain_boxes(df), "per-domain box plots")
                 + f"<details><summary>Table per method × domain</summary>{to_html(t_domain)}</details>"),
        section("variance", "Test-set sampling variance (PancreasDG finding i)",
                 "how much the mean Dice of a domain moves between test sets of n cases (n cases drawn with "
                 "replacement, 1000 draws); the open circle marks the test size available. Below: each domain's gap "
                 "to the in-domain mean against the smallest gap detectable at that test size, "
                 f"MDG = (z<sub>{1 - alpha / 2:.3g}</sub> + z<sub>{power:.2g}</sub>) · √(SD<sub>ref</sub>(n)² + "
                 "SD<sub>domain</sub>(n)²). Gaps flagged <span class=\"badge warn\">below detectable</span> may be "
                 "sampling noise, not domain shift.",
                 figures_img(figures.sample_size_curve(a.variance), "sample size curve",
                             "Needs >= 2 test cases in a target domain.") + to_html(t_gaps)),
        section("correlation", "Source vs target performance (PancreasDG finding ii)",
                 "each point is one run (method × run × seed); in-domain mean Dice against its cross-domain mean "
                 "Dice, least-squares line dashed; Pearson r with Fisher-z CI, Spearman ρ with bootstrap CI. Oracle "
                 "runs (hollow) are shown but left out of the fit and the coefficients.",
                 figures_img(figures.correlation_scatter(a.correlation), "source vs target scatter",
                             "Needs in-domain and cross-domain results of the same runs.")),
        section("paired", "Paired comparison of methods",
                 "two methods on the very same cases (runs averaged per case): Wilcoxon signed-rank test, p-values "
                 "Holm-corrected over all pairs within a transfer type, and how often each method wins.",
                 to_html(t_paired)),
    ]
    sections.extend(x for x in [ranking_section(a)] if x)  # issue #20: ranking robustness
    training_html, t_select = training_section(checkpoints)  # issue #20: transfer over training
    sections.extend(x for x in [training_html] if x)
    sections.extend(x for x in [labelmap_section(df)] if x)  # issue #12: draws of label-map training
    if montage is not None or montage_note:
        sections.append(section("overlays", "Predictions against ground truth",
                                 "best, median and worst case of each target domain: ground truth in "
                                 '<span style="color:#2ecc40;font-weight:600">green</span>, prediction in '
                                 '<span style="color:#ff3b30;font-weight:600">red</span>, on the axial slice with '
                                 f"the largest ground truth. {html.escape(montage_note)}",
                                 figures_img(montage, "overlay montage") if montage is not None else ""))
    t_agree = t_adjudicate = t_annot = None
    if agreement is not None:
        t_agree, t_adjudicate = agreement_tables(agreement)
        t_annot = annotator_table(agreement)
        sections.append(section("agreement", "Annotator agreement",
                                 "each case's two annotators (`crosspan annotate compare ASSIGNMENT_DIR`): mean Dice, "
                                 "median HD95 and mean Cohen's kappa by center and sequence, each annotator's mean "
                                 "agreement with the others and volume bias (own minus partner, ml), and the cases "
                                 "flagged for adjudication (`crosspan annotate adjudicate`).",
                                 to_html(t_agree) + (to_html(t_annot) if t_annot is not None else "")
                                 + to_html(t_adjudicate)))
    if not t_skip.empty:
        sections.append(section("skipped", "Skipped methods", "methods that produced no predictions.",
                                 to_html(t_skip)))
    nav = "".join(f'<a href="#{k}">{v}</a>' for k, v in [("transfer", "Transfer"), ("matrix", "Matrix"),
                                                          ("domains", "Domains"), ("variance", "Sampling"),
                                                          ("correlation", "Correlation"), ("paired", "Paired tests"),
                                                          ("ranking", "Ranking")]
                  + ([("training", "Over training")] if training_html else []))
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    src = ", ".join(html.escape(Path(s).name) for s in sources) or "in-memory table"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{CSS}</style></head>
<body><header><div class="wrap"><h1>{html.escape(title)}</h1>
<p class="sub">Cross-center and cross-sequence pancreas segmentation · {src} · {when} · crosspan {__version__}</p>
<nav>{nav}</nav></div></header>
<main class="wrap">
<div class="convention"><b>Metric convention.</b> {CONVENTION} NSD tolerance {_tolerance(df)}. {EMPTY_POLICY}
{bootstrap_convention(a)}</div>
{_cards(df)}{"".join(notes)}{"".join(sections)}
</main><footer class="wrap">Generated by <code>crosspan report</code>. Tables also in report.md and report.tex.
</footer></body></html>
"""
    md = [f"# {title}\n", f"Metric convention: {html.unescape(_strip_tags(CONVENTION))} NSD {_tolerance(df)}.\n"]
    if oracle_methods:
        md.append(f"**Oracle** (ground-truth-derived test-time information): {', '.join(oracle_methods)}.\n")
    tex = ["% Tables generated by crosspan report; needs \\usepackage{booktabs}", ""]
    for name, table in [("Dice by transfer type (95 % CI, patients resampled)", t_transfer),
                        ("Dice per method and target domain", t_domain),
                        ("Domain gaps vs the smallest detectable gap", t_gaps),
                        ("Paired Wilcoxon tests, Holm-corrected", t_paired), *ranking_tables(a),
                        ("Model selection over training checkpoints", t_select),
                        ("Skipped methods", t_skip),
                        ("Annotator agreement", t_agree), ("Agreement per annotator", t_annot),
                        ("Cases to adjudicate", t_adjudicate)]:
        if table is None:
            continue
        if name.startswith("Skipped") and table.empty:
            continue
        md.append(f"## {name}\n\n{to_markdown(table)}")
        tex.append(to_latex(table, name))
    return page, "\n".join(md), "\n".join(tex)


def agreement_tables(agreement: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Summary by center x sequence and the adjudication list, from an ``annotate compare`` table."""
    from crosspan.annotate.compare import agreement_summary

    flagged = agreement[agreement["adjudicate"].astype(str).str.lower().isin(["true", "1"])]
    cols = [c for c in ("code", "case_id", "center", "sequence", "dice", "hd95", "kappa") if c in agreement.columns]
    todo = flagged[cols].round(3) if not flagged.empty else pd.DataFrame({"code": ["(none)"]})
    return agreement_summary(agreement.assign(adjudicate=agreement["adjudicate"].astype(str).str.lower()
                                              .isin(["true", "1"]))), todo


def annotator_table(agreement: pd.DataFrame) -> pd.DataFrame | None:
    """Each annotator's mean agreement with the others, when the table names each row's annotator pair."""
    from crosspan.annotate.compare import annotator_summary

    if not {"annotator_a", "annotator_b", "volume_a_ml", "volume_b_ml"} <= set(agreement.columns):
        return None
    return annotator_summary(agreement.assign(adjudicate=agreement["adjudicate"].astype(str).str.lower()
                                              .isin(["true", "1"])))


def bootstrap_convention(a: Analysis) -> str:
    """The resampling convention of every CI and ranking, as the header states it."""
    from crosspan.evaluation.resample import MIN_CENTERS

    mode = str(a.params.get("bootstrap", "patient"))
    rule = {"patient": "whole patients are resampled (all their scans kept)",
            "hierarchical": "centers, then patients within a center, then scans within a patient are resampled",
            "auto": f"groups spanning >= {MIN_CENTERS} centers resample centers, then patients within a center, "
                    "then scans within a patient (hierarchical); other groups resample whole patients"}[mode]
    used = sorted(set(a.by_transfer.get("bootstrap", pd.Series(dtype=str))) | set(a.summary.get(
        "bootstrap", pd.Series(dtype=str))))
    return (f"Confidence intervals: 95 % percentile bootstrap ({a.params.get('n_boot', 2000)} replicates, "
            f"seed {a.params.get('seed', 0)}): {rule}" + (f"; used here: {', '.join(used)}" if used else "") + ". "
            f"Rankings: {a.params.get('n_rank_boot', 1000)} bootstrap draws with the same resampling.")


def _strip_tags(text: str) -> str:
    return text.replace("<code>", "").replace("</code>", "")


def write_report(df: pd.DataFrame, a: Analysis, output: str | Path, title: str = "crosspan report",
                 catalog: Path | None = None, pred_dir: Path | None = None, montage_method: str | None = None,
                 sources: Sequence[str] = (), agreement: pd.DataFrame | None = None,
                 checkpoints: pd.DataFrame | None = None) -> list[Path]:
    """Build everything in memory, then write ``output`` and ``report.md`` / ``report.tex`` beside it atomically."""
    montage, note = None, ""
    if catalog is not None and pred_dir is not None:
        from crosspan.report.montage import montage_from

        method, picks, montage = montage_from(df, Path(catalog), Path(pred_dir), montage_method)
        note = (f"Method: {method}; {len(picks)} cases." if montage is not None
                else f"No prediction in {pred_dir} matches a scored case.")
    page, md, tex = build_report(df, a, title, montage, note, sources, agreement, checkpoints)
    out = Path(output)
    out = out if out.suffix.lower() == ".html" else out.with_name(out.name + ".html")
    paths = [out, out.with_suffix(".md"), out.with_suffix(".tex")]
    for path, text in zip(paths, (page, md, tex), strict=True):
        write_text(path, text)
        path.chmod(0o644)  # mkstemp creates 0600; a report is meant to be shared
    return paths
