"""``crosspan evaluate``: score any folder of predicted masks against a catalog's labels."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from crosspan.cli.common import console, fail, handle_errors, split_list


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("evaluate")(evaluate_cmd)


@handle_errors
def evaluate_cmd(
    data: Path = typer.Argument(None, help="Catalog CSV or dataset folder (any layout `crosspan data` reads)."),
    pred: Path = typer.Option(..., "--pred", help="Folder of predicted masks: <case_id>.nii.gz (.nii, .nrrd, .mha), "
                                                  "or nnU-Net style <case>.nii.gz (per-sequence folders allowed)."),
    method: str = typer.Option(..., "--method", help="Method name written in every row."),
    output: Path = typer.Option(Path("results.csv"), "-o", "--output", help="Per-case results CSV to write."),
    data_opt: Path = typer.Option(None, "--data", help="Same as the DATA argument."),
    run: str = typer.Option("", "--run", help="Run name (e.g. a training run or checkpoint)."),
    seed: int = typer.Option(None, "--seed", help="Training seed of the model, recorded per row."),
    train_domains: str = typer.Option(None, "--train-domains", help="Training domains, e.g. A:T1,B:T1."),
    splits: Path = typer.Option(None, "--splits", help="Splits JSON (`crosspan data splits`): test cases and "
                                                       "training domains of a fold."),
    fold: str = typer.Option(None, "--fold", help="Fold name or index in --splits (needed with several folds)."),
    cases: str = typer.Option("test", "--cases", help="test, val or train: that list of the --splits fold (else the "
                                                      "catalog's split column); all: every labelled case."),
    resample_pred: bool = typer.Option(False, "--resample-pred", help="Resample predictions whose grid differs "
                                                                      "from the label (nearest neighbour)."),
    pred_label: int = typer.Option(None, "--pred-label", help="Score voxels equal to this value of a multi-label "
                                                              "prediction (default: predictions must be 0/1)."),
    tolerance: float = typer.Option(2.0, "--tolerance", help="NSD tolerance in mm."),
    allow_missing: bool = typer.Option(False, "--allow-missing", help="Score missing predictions as empty masks "
                                                                      "(flagged pred_missing) instead of failing."),
    oracle: bool = typer.Option(False, "--oracle", help="Mark rows as oracle results (prompts or model selection "
                                                        "derived from ground truth)."),
    workers: int = typer.Option(None, "--workers", help="Worker processes (default: CPU count)."),
) -> None:
    """Score predicted masks against the labels: one row per case with Dice, IoU, precision, recall, RVE, HD95,
    ASSD and NSD (DeepMind surface-distance convention), domain and transfer type. Nothing is written when any
    prediction is missing, non-binary or on another grid; every problem is printed on its own line."""
    from crosspan.core.atomic import atomic_path
    from crosspan.data.catalog import catalog_from, is_catalog_file
    from crosspan.evaluation.evaluate import EvaluationErrors, evaluate_predictions

    source = data if data is not None else data_opt
    if source is None or (data is not None and data_opt is not None):
        raise fail("pass the catalog or dataset once, as DATA or --data")
    if train_domains and splits:
        raise fail("pass either --train-domains or --splits, not both")
    catalog = catalog_from(source, progress=False)
    base = source.parent if is_catalog_file(source) else None
    try:
        df = evaluate_predictions(catalog, pred, method, run=run, seed=seed,
                                  train_domains=split_list(train_domains) or None, splits=splits, fold=fold,
                                  cases=cases, resample_pred=resample_pred, tolerance_mm=tolerance,
                                  allow_missing=allow_missing, oracle=oracle, pred_label=pred_label,
                                  workers=workers, base=base)
    except EvaluationErrors as err:
        for p in err.problems:
            console.print(f"[bold red]error:[/] {p.path}: {p.problem}. Fix: {p.fix}", highlight=False,
                          soft_wrap=True)
        raise fail(str(err)) from None
    with atomic_path(output) as tmp:
        df.to_csv(tmp, index=False)
    _print_summary(df, output)


def _print_summary(df, output: Path) -> None:  # noqa: ANN001 - pandas DataFrame
    from crosspan.evaluation.evaluate import summary

    table = Table(title=f"mean Dice per domain ({len(df)} cases -> {output})")
    for col in ("center", "sequence", "transfer", "n", "mean Dice"):
        table.add_column(col)
    for r in summary(df).itertuples(index=False):
        table.add_row(str(r.center), str(r.sequence), str(r.transfer), str(r.n), f"{r.mean_dice:.3f}")
    console.print(table)
    flagged = int(df["pred_missing"].sum()), int(df["pred_empty"].sum()), int(df["gt_empty"].sum())
    if any(flagged):
        console.print(f"flags: {flagged[0]} missing, {flagged[1]} empty predictions, {flagged[2]} empty labels")
