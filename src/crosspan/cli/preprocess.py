"""`crosspan preprocess`: plan (spacing, normalization, patch) + resumable cache of preprocessed arrays."""

from __future__ import annotations

from pathlib import Path

import typer

from crosspan.cli.common import console, handle_errors, split_list


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("preprocess")(preprocess_cmd)


@handle_errors
def preprocess_cmd(
    data: Path = typer.Argument(..., help="Catalog CSV, dataset folder or manifest."),
    output: Path = typer.Option(..., "-o", "--output", help="Plan folder (plan.json, catalog.csv, cache/)."),
    train_domains: str = typer.Option(None, "--train-domains",
                                      help="Training domains CENTER:SEQ (e.g. A:T1,B:T1); rows by their split column."),
    splits: Path = typer.Option(None, "--splits", help="Splits JSON from `crosspan data splits` (overrides domains)."),
    fold: str = typer.Option("0", "--fold", help="Fold of the splits JSON: its index or name."),
    cases: str = typer.Option("all", "--cases", help="Cache 'all' catalog rows (default) or only 'split' cases."),
    spacing: str = typer.Option(None, "--spacing", help="Force the target spacing z,y,x in mm."),
    workers: int = typer.Option(1, "--workers", help="Worker processes."),
    normalization: str = typer.Option("zscore", "--normalization",
                                      help="zscore (per image, body mask) or nyul (histogram standardization "
                                           "learned on the training images; Nyul et al., IEEE TMI 2000)."),
    body_mask: str = typer.Option("noise-floor", "--body-mask",
                                  help="noise-floor (default: everything above the background noise; keeps "
                                       "fat-saturated and biased T2 bodies whole) or otsu (half the Otsu threshold, "
                                       "the mask of plans made before it)."),
) -> None:
    """Derive the plan from the training rows and cache every case (a cached, unchanged case is skipped)."""
    from crosspan.core.atomic import remove_stale_temps
    from crosspan.preprocess.run import preprocess

    remove_stale_temps(output / "cache")  # a killed run's half-written files; its complete cases are kept
    sp = [float(v) for v in split_list(spacing)] if spacing else None
    plan = preprocess(data, output, split_list(train_domains) or None, splits, fold, workers,
                      "all" if cases == "all" else "split", sp, normalization=normalization,
                      body_mask=body_mask)
    console.print(f"plan: spacing {plan['target_spacing']} mm, patch {plan['patch_size']} "
                  f"(cpu {plan['patch_size_cpu']}), {len(plan['cases']['train'])} train / "
                  f"{len(plan['cases']['val'])} val cases, domains {', '.join(plan['train_domains'])}")
    console.print(f"cache: {plan['summary']} -> {output / 'cache'}")
