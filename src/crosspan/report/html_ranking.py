"""The report's ranking section (issue #20): blob plot, significance maps, rank, tau and consensus tables."""

from __future__ import annotations

import html

import pandas as pd

from crosspan.evaluation.analysis import Analysis
from crosspan.report import figures_ranking
from crosspan.report.html_parts import figures_img, section
from crosspan.report.tables import to_html
from crosspan.report.tables_ranking import consensus_table, ranking_table, skipped_tasks_text, tau_table

WHAT = ("how stable the order of methods is, after challengeR (Wiesenfarth et al., Sci. Rep. 2021), per transfer "
        "type (its target domains pooled) and per target domain. Each method is scored on the same cases (runs "
        "averaged per case; a missing score counts as Dice 0). <b>Blob plot</b>: dot area = how often a method took "
        "that rank in {n} bootstrap draws (aggregate-then-rank: mean Dice, then rank), black × = median rank, black "
        "bar = 95 % interval; the title gives Kendall's τ between the draws' rankings and the full ranking (median "
        "[95 % interval]; 1 = the order never changes). <b>Significance map</b>: a ✓ where the row method is better "
        "than the column method, one-sided Wilcoxon signed-rank test on shared cases, Holm-corrected over all "
        "ordered pairs of the task (α = {alpha:g}); methods whose cells are empty both ways cannot be separated. "
        "Below: the three ranking schemes (aggregate-then-rank, rank-then-aggregate, test-then-rank) and the "
        "consensus ranking across target domains (methods by mean per-domain rank).")


def ranking_tables(a: Analysis) -> list[tuple[str, pd.DataFrame]]:
    """(caption, table) pairs for report.md / report.tex; none without a ranking."""
    if a.ranking is None:
        return []
    return [("Rankings per transfer type (three schemes, bootstrap median rank)", ranking_table(a.ranking)),
            ("Consensus ranking across target domains", consensus_table(a.ranking))]


def ranking_section(a: Analysis) -> str:
    """The HTML section, or a sentence saying why nothing could be ranked."""
    r = a.ranking
    if r is None:
        return ""
    what = WHAT.format(n=r.params.get("n_boot", 1000), alpha=float(r.params.get("alpha", 0.05)))
    skipped = skipped_tasks_text(r)
    note = f'<p class="muted">{html.escape(skipped)}</p>' if skipped else ""
    if r.ranks.empty:
        return section("ranking", "Ranking robustness", what, note or '<p class="muted">Needs >= 2 methods scored '
                        "on the same cases.</p>")
    missing = "Needs >= 2 methods scored on the same cases of >= 2 patients."
    body = (figures_img(figures_ranking.blob_plot(r), "ranking blob plot", missing)
            + figures_img(figures_ranking.significance_maps(r), "significance maps", missing)
            + note + to_html(ranking_table(r)) + "<h3>Consensus across target domains</h3>"
            + to_html(consensus_table(r))
            + f"<details><summary>Kendall's τ per task and scheme</summary>{to_html(tau_table(r))}</details>"
            + f"<details><summary>Ranks per target domain</summary>{to_html(ranking_table(r, 'domain'))}</details>")
    return section("ranking", "Ranking robustness", what, body)
