"""``crosspan annotate``: double-blind two-pass annotation (assign, compare, consensus)."""

from __future__ import annotations

from pathlib import Path

import typer

from crosspan.cli.common import console, handle_errors, split_list

annotate_app = typer.Typer(help="Double-blind, two-pass, adjudicated annotation.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(annotate_app, name="annotate")


@annotate_app.command("assign")
@handle_errors
def assign_cmd(
    source: Path = typer.Argument(..., help="Catalog CSV, dataset folder or manifest."),
    annotators: str = typer.Option(..., "--annotators", help="Comma-separated annotator names (at least two)."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder for per-annotator work lists and key.csv."),
    seed: int = typer.Option(0, "--seed", help="Seed for pairing and per-annotator order."),
    salt: str = typer.Option("crosspan", "--salt", envvar="CROSSPAN_SALT", help="Salt for the opaque case codes."),
) -> None:
    """Give every case to two annotators, balanced and blinded (opaque codes, own random order)."""
    from crosspan.annotate.assign import assign_cases
    from crosspan.data.catalog import catalog_from

    key = assign_cases(catalog_from(source, progress=False), split_list(annotators), output, seed=seed, salt=salt)
    console.print(f"work lists -> {output}/<annotator>/worklist.csv; coordinator key (keep private) -> {key}")


@annotate_app.command("compare")
@handle_errors
def compare_cmd(
    dir_a: Path = typer.Argument(..., help="First annotator's masks (<code>.nii.gz)."),
    dir_b: Path = typer.Argument(..., help="Second annotator's masks."),
    key: Path = typer.Option(None, "--key", help="key.csv from `annotate assign` (adds case, center, sequence)."),
    output: Path = typer.Option(Path("agreement.csv"), "-o", "--output", help="Per-case agreement CSV."),
    dice_below: float = typer.Option(0.8, "--dice-below", help="Adjudicate when Dice is below this."),
    hd95_above: float = typer.Option(10.0, "--hd95-above", help="Adjudicate when HD95 (mm) is above this."),
    tolerance: float = typer.Option(2.0, "--tolerance", help="NSD tolerance in mm."),
) -> None:
    """Agreement per case (Dice, HD95, NSD, volume difference, kappa), summary, and the adjudication list."""
    import pandas as pd

    from crosspan.annotate.compare import agreement_summary, compare_annotations
    from crosspan.utils.atomic import atomic_path

    key_df = pd.read_csv(key, dtype=str) if key else None
    table = compare_annotations(dir_a, dir_b, key_df, dice_below=dice_below, hd95_above=hd95_above,
                                tolerance_mm=tolerance)
    with atomic_path(output) as tmp:
        table.to_csv(tmp, index=False)
    summary = agreement_summary(table)
    with atomic_path(Path(output).with_name(Path(output).stem + "_summary.csv")) as tmp:
        summary.to_csv(tmp, index=False)
    console.print(summary.to_string(index=False))
    todo = table[table["adjudicate"]]
    console.print(f"{len(todo)} of {len(table)} case(s) need adjudication: {', '.join(todo['code'].head(20))}")
    console.print(f"agreement -> {output}")


@annotate_app.command("consensus")
@handle_errors
def consensus_cmd(
    mask_dirs: list[Path] = typer.Argument(..., help="Two or more annotators' mask folders."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder for masks/ and confidence/."),
    method: str = typer.Option("staple", "--method", help="staple (SimpleITK) or majority."),
    adjudicated: Path = typer.Option(None, "--adjudicated", help="Adjudicated masks; they win where present."),
) -> None:
    """Fuse annotators' masks (STAPLE or majority vote) into final masks plus confidence maps."""
    from crosspan.annotate.consensus import build_consensus

    names = build_consensus(mask_dirs, output, method=method, adjudicated=adjudicated)
    console.print(f"{len(names)} consensus mask(s) -> {output}/masks (confidence maps in {output}/confidence)")
