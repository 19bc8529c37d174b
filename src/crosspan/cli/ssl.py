"""`crosspan ssl`: helpers for semi-supervised training (transported pseudo-labels for `paired-sequence`)."""

from __future__ import annotations

from pathlib import Path

import typer

from crosspan.cli.common import console, handle_errors

ssl_app = typer.Typer(help="Semi-supervised learning helpers (paired-sequence pseudo-labels).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(ssl_app, name="ssl")


@ssl_app.command("pair")
@handle_errors
def pair_cmd(
    data: Path = typer.Argument(..., help="Dataset folder, manifest or catalog CSV the splits were made from."),
    splits: Path = typer.Option(..., "--splits", help="Splits JSON with labeled `train` and `unlabeled` lists."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder: labels/, pairs/, pairs.csv, catalog.csv."),
    fold: str = typer.Option("0", "--fold", help="Fold of the splits JSON: its index or name."),
    source_sequence: str = typer.Option(None, "--source-sequence",
                                        help="Preferred source sequence when a patient has several labeled scans."),
    iterations: int = typer.Option(100, "--iterations", help="Optimizer iterations per registration level."),
    min_agreement: float = typer.Option(0.5, "--min-agreement",
                                        help="Weight 0 below this Dice of the kept transport with another."),
    seed: int = typer.Option(0, "--seed", help="Seed of the registration's metric sampling."),
    workers: int = typer.Option(1, "--workers", help="Worker processes."),
    transport: str = typer.Option("local", "--transport",
                                  help="local: rigid fit of the box around the label, then per-slice shifts; "
                                       "consensus: the earlier whole-volume fits (docs/ssl.md)."),
) -> None:
    """Register each unlabeled scan's same-patient labeled scan onto it (Mattes MI) and transport the label: by
    default a rigid fit of the box around the label, then a translation per slice (docs/ssl.md).

    Writes OUT/catalog.csv (the catalog plus `pseudo_label` and `pseudo_weight` columns) and OUT/splits_paired.json
    (this fold's unlabeled pool cut to the paired scans). Next: `crosspan preprocess OUT/catalog.csv --splits
    SPLITS --fold K -o PLAN`, then `crosspan train PLAN --method paired-sequence`. Finished cases are skipped on a
    rerun; the target scans' own labels are never read.
    """
    from crosspan.preprocess.pairing.pseudo_labels import pair_fold, summary

    table = pair_fold(data, splits, fold, output, source_sequence, iterations, min_agreement, seed, workers,
                      transport=transport)
    console.print(summary(table))
    console.print(f"catalog with pseudo-labels -> {output / 'catalog.csv'}")


@ssl_app.command("true-labels")
@handle_errors
def true_labels_cmd(
    catalog: Path = typer.Argument(..., help="Catalog with pseudo-labels written by `crosspan ssl pair`."),
    output: Path = typer.Option(..., "-o", "--output", help="Catalog CSV to write."),
) -> None:
    """Upper bound of paired-sequence: every pseudo-label replaced by the scan's TRUE label, weight 1.

    ORACLE: training on this catalog reads the target scans' own labels; its results bound what transported
    pseudo-labels can reach and are never a method result (`crosspan benchmark` marks them oracle)."""
    import pandas as pd

    from crosspan.core.errors import CrosspanError
    from crosspan.data.catalog import load_catalog, save_catalog

    cat = load_catalog(catalog)
    if "pseudo_label" not in cat.columns:
        raise CrosspanError(catalog, "no pseudo_label column", "pass the OUT/catalog.csv of `crosspan ssl pair`")
    paired = cat["pseudo_label"].fillna("").astype(str) != ""
    unlabeled = paired & (cat["label"].fillna("").astype(str) == "")
    if unlabeled.any():
        raise CrosspanError(catalog, f"{int(unlabeled.sum())} paired scan(s) have no true label "
                            f"(e.g. {cat.loc[unlabeled, 'case_id'].iloc[0]})", "use a fully labelled dataset")
    cat.loc[paired, "pseudo_label"] = cat.loc[paired, "label"]
    weight = pd.to_numeric(cat.get("pseudo_weight", pd.Series(index=cat.index, dtype=float)), errors="coerce")
    cat["pseudo_weight"] = weight.where(~paired, 1.0)  # unpaired rows stay empty
    save_catalog(cat, output)
    console.print(f"{int(paired.sum())} pseudo-labels replaced by true labels (oracle upper bound) -> {output}")
