"""`crosspan analyze` (statistics tables) and `crosspan report` (one self-contained HTML page)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from crosspan.cli.common import console, fail, handle_errors

out_console = Console()
BOOTSTRAP_HELP = ("Resampling of CIs and rankings: patient, hierarchical (center -> patient -> scan) or auto "
                  "(hierarchical where a group spans >= 3 centers).")


CHECKPOINTS_HELP = ("Checkpoint table(s): per-case rows with checkpoint (step) and split (val/test) columns; adds "
                    "Dice versus step and each model-selection rule's pick.")


def _checkpoints(paths: list[Path] | None) -> pd.DataFrame | None:
    from crosspan.evaluation.checkpoints import load_checkpoint_table

    return load_checkpoint_table(paths) if paths else None


def _write_training(ckpt: pd.DataFrame, output: Path, quiet: bool) -> list[Path]:
    """training_curves.csv and selection.csv of a checkpoint table (atomic writes); prints the picks."""
    from crosspan.core.atomic import atomic_path
    from crosspan.evaluation.checkpoints import selections, training_curves

    sel, notes = selections(ckpt)
    paths = []
    for name, table in (("training_curves.csv", training_curves(ckpt)), ("selection.csv", sel)):
        with atomic_path(output / name) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6g")
        paths.append(output / name)
    if not quiet:
        _print_table("Model selection over checkpoints (oracle = picked on test cases)", sel,
                     ["method", "rule", "run", "checkpoint", "selection_score", "transfer", "test_dice", "oracle"])
        for n in notes:
            out_console.print(f"not selected by {n}")
    return paths


def _check_bootstrap(bootstrap: str) -> None:
    from crosspan.evaluation.resample import MODES

    if bootstrap not in MODES:
        raise fail(f"bad --bootstrap '{bootstrap}': use {', '.join(MODES)}")


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return "" if pd.isna(v) else f"{v:.3f}"
    return str(v)


def _print_table(title: str, df: pd.DataFrame, columns: list[str], limit: int = 30) -> None:
    cols = [c for c in columns if c in df.columns]
    if df.empty or not cols:
        return
    table = Table(title=title, title_justify="left", header_style="bold")
    for c in cols:
        table.add_column(c, justify="right" if pd.api.types.is_numeric_dtype(df[c]) else "left")
    for _, row in df.head(limit).iterrows():
        table.add_row(*(_fmt(row[c]) for c in cols))
    out_console.print(table)


@handle_errors
def analyze_cmd(
    results: list[Path] = typer.Argument(..., help="Per-case results CSV(s) from `crosspan evaluate`."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder for the analysis tables."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and subsampling draws."),
    n_boot: int = typer.Option(2000, "--n-boot", help="Bootstrap replicates for confidence intervals."),
    n_draws: int = typer.Option(1000, "--n-draws", help="Subsamples per test size for the sampling variance."),
    bootstrap: str = typer.Option("auto", "--bootstrap", help=BOOTSTRAP_HELP),
    n_rank_boot: int = typer.Option(1000, "--n-rank-boot", min=1, help="Bootstrap draws of the rankings."),
    checkpoints: list[Path] = typer.Option(None, "--checkpoints", help=CHECKPOINTS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not print the tables."),
) -> None:
    """Domain-aware statistics of per-case results: CIs by patient (or center, patient, scan), domain matrix,
    sampling variance, detectable gaps, source-vs-target correlation, paired Wilcoxon tests with Holm correction,
    and ranking robustness (three ranking schemes, bootstrap ranks, Kendall's tau, significance maps, consensus)."""
    from crosspan.evaluation.analysis import analyze, write_analysis
    from crosspan.evaluation.stats import load_results
    from crosspan.report.figures import correlation_text

    _check_bootstrap(bootstrap)
    ckpt = _checkpoints(checkpoints)
    df, skipped = load_results(results)
    a = analyze(df, skipped, seed=seed, n_boot=n_boot, n_draws=n_draws, bootstrap=bootstrap,
                n_rank_boot=n_rank_boot)
    paths = write_analysis(a, output)
    if ckpt is not None:
        paths += _write_training(ckpt, output, quiet)
    if not quiet:
        _print_table("Dice by transfer type (95 % CI, patients resampled)", a.by_transfer,
                     ["method", "transfer", "n", "n_patients", "dice_mean", "dice_ci_low", "dice_ci_high", "oracle"])
        _print_table("Domain gaps vs the smallest detectable gap", a.gaps,
                     ["method", "domain", "transfer", "gap", "detectable_gap", "below_detectable"])
        _print_table("Paired Wilcoxon tests (Holm)", a.paired,
                     ["transfer", "method_a", "method_b", "n_cases", "mean_diff", "win_rate_a", "p_holm"])
        if a.ranking is not None:
            _print_table("Rankings (aggregate-then-rank; bootstrap median rank and 95 % interval)",
                         a.ranking.ranks[a.ranking.ranks["level"] == "transfer"],
                         ["task", "method", "mean_dice", "rank_aggregate", "rank_rank_aggregate", "rank_test",
                          "boot_median_rank", "boot_rank_low", "boot_rank_high", "oracle"])
            _print_table("Kendall's tau, bootstrap vs full ranking", a.ranking.tau,
                         ["task", "scheme", "bootstrap", "tau_mean", "tau_median", "tau_low", "tau_high"])
        for target, c in a.correlation.get("targets", {}).items():
            out_console.print(f"in-domain vs {target} over {c['n_runs']} runs: {correlation_text(c)}")
        if not a.skipped.empty:
            out_console.print(f"skipped: {', '.join(sorted(a.skipped['method'].astype(str).unique()))}")
    console.print(f"wrote {len(paths)} files to {output}")


@handle_errors
def report_cmd(
    results: list[Path] = typer.Argument(..., help="Per-case results CSV(s) from `crosspan evaluate`."),
    output: Path = typer.Option(Path("report.html"), "-o", "--output", help="HTML file to write."),
    catalog: Path | None = typer.Option(None, "--catalog", help="Catalog CSV or dataset (images, labels)."),
    pred_dir: Path | None = typer.Option(None, "--pred-dir", help="Folder of <case_id>.nii.gz predictions."),
    montage_method: str | None = typer.Option(None, "--montage-method",
                                              help="Method whose predictions are in --pred-dir (default: the "
                                                   "method with most matching cases)."),
    title: str = typer.Option("crosspan report", "--title", help="Page title."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and subsampling draws."),
    n_boot: int = typer.Option(2000, "--n-boot", help="Bootstrap replicates for confidence intervals."),
    bootstrap: str = typer.Option("auto", "--bootstrap", help=BOOTSTRAP_HELP),
    n_rank_boot: int = typer.Option(1000, "--n-rank-boot", min=1, help="Bootstrap draws of the rankings."),
    checkpoints: list[Path] = typer.Option(None, "--checkpoints", help=CHECKPOINTS_HELP),
    agreement: Path | None = typer.Option(None, "--agreement", help="Per-case agreement CSV from "
                                                                     "`crosspan annotate compare` (adds a section)."),
) -> None:
    """One self-contained HTML report (figures embedded) plus report.md and report.tex tables beside it."""
    from crosspan.evaluation.analysis import analyze
    from crosspan.evaluation.stats import load_results
    from crosspan.report.html import write_report

    if (catalog is None) != (pred_dir is None):
        console.print("[yellow]note:[/] overlay montages need both --catalog and --pred-dir; skipping them")
    _check_bootstrap(bootstrap)
    ckpt = _checkpoints(checkpoints)
    df, skipped = load_results(results)
    if catalog is not None and pred_dir is not None:
        from crosspan.report.montage import check_montage_inputs

        check_montage_inputs(df, catalog, pred_dir, montage_method)
    a = analyze(df, skipped, seed=seed, n_boot=n_boot, bootstrap=bootstrap, n_rank_boot=n_rank_boot)
    agree = None
    if agreement is not None:
        import pandas as pd

        from crosspan.core.errors import CrosspanError

        if not agreement.is_file():
            raise CrosspanError(agreement, "agreement table does not exist",
                                "write it with `crosspan annotate compare`")
        agree = pd.read_csv(agreement)
        missing = [c for c in ("code", "dice", "hd95", "kappa", "adjudicate") if c not in agree.columns]
        if missing:
            raise CrosspanError(agreement, f"not an agreement table (missing {', '.join(missing)})",
                                "pass the CSV written by `crosspan annotate compare`")
    paths = write_report(df, a, output, title=title, catalog=catalog if pred_dir else None,
                         pred_dir=pred_dir if catalog else None, montage_method=montage_method,
                         sources=[str(p) for p in results], agreement=agree, checkpoints=ckpt)
    console.print(f"wrote {', '.join(str(p) for p in paths)}")


def register(app: typer.Typer) -> None:
    """Add ``analyze`` and ``report`` to the root app."""
    app.command("analyze")(analyze_cmd)
    app.command("report")(report_cmd)
