"""``crosspan annotate``: double-blind two-pass annotation (assign, compare, adjudicate, consensus)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from crosspan.cli.common import console, handle_errors, split_list
from crosspan.core.errors import CrosspanError

if TYPE_CHECKING:
    import pandas as pd

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
    dir_a: Path = typer.Argument(..., help="Assignment folder from `annotate assign` (all cases), or the first "
                                           "annotator's masks (<code>.nii.gz)."),
    dir_b: Path = typer.Argument(None, help="Second annotator's masks (two-folder form only)."),
    key: Path = typer.Option(None, "--key", help="key.csv (two-folder form: adds case, center, sequence)."),
    output: Path = typer.Option(None, "-o", "--output", help="Per-case agreement CSV [ASSIGNMENT_DIR/agreement.csv "
                                                             "or agreement.csv]."),
    dice_below: float = typer.Option(0.8, "--dice-below", help="Adjudicate when Dice is below this."),
    hd95_above: float = typer.Option(10.0, "--hd95-above", help="Adjudicate when HD95 (mm) is above this."),
    tolerance: float = typer.Option(2.0, "--tolerance", help="NSD tolerance in mm."),
) -> None:
    """Agreement per case (Dice, HD95, NSD, volume difference, kappa), summaries, and the adjudication list."""
    import pandas as pd

    from crosspan.annotate import compare as cmp
    from crosspan.annotate.key import is_assignment_dir

    tables: dict[str, pd.DataFrame] = {}
    if dir_b is None:
        if not is_assignment_dir(dir_a):
            raise CrosspanError(dir_a, "not an assignment folder (no key.csv) and no second mask folder given",
                                "pass the folder of `annotate assign`, or two annotators' mask folders")
        output = output or dir_a / "agreement.csv"
        table, missing = cmp.compare_assignment(dir_a, dice_below=dice_below, hd95_above=hd95_above,
                                            tolerance_mm=tolerance)
        tables["annotators"] = cmp.annotator_summary(table, missing)
        tables["missing"] = missing
    else:
        output = output or Path("agreement.csv")
        key_df = pd.read_csv(key, dtype=str) if key else None
        table = cmp.compare_annotations(dir_a, dir_b, key_df, dice_below=dice_below, hd95_above=hd95_above,
                                    tolerance_mm=tolerance)
    tables["summary"] = cmp.agreement_summary(table)
    tables["adjudicate"] = cmp.adjudication_list(table, dice_below, hd95_above)
    _write_tables(output, table, tables)
    console.print(tables["summary"].to_string(index=False), highlight=False, soft_wrap=True)
    if "annotators" in tables:
        console.print(tables["annotators"].to_string(index=False), highlight=False, soft_wrap=True)
    _print_missing(tables.get("missing"))
    todo = tables["adjudicate"]
    console.print(f"{len(todo)} of {len(table)} case(s) need adjudication: {', '.join(todo['code'].head(20))}")
    console.print(f"agreement -> {output} (+ {', '.join(f'{output.stem}_{k}.csv' for k in tables)})")


def _write_tables(output: Path, table: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> None:
    from crosspan.core.atomic import atomic_path

    for suffix, df in [("", table), *((f"_{k}", v) for k, v in tables.items())]:
        with atomic_path(Path(output).with_name(Path(output).stem + suffix + ".csv")) as tmp:
            df.to_csv(tmp, index=False)


def _print_missing(missing: pd.DataFrame | None) -> None:
    if missing is None or missing.empty:
        return
    for annotator, group in missing.groupby("annotator"):
        console.print(f"[yellow]missing[/] {annotator}: {len(group)} mask(s) not back: "
                      f"{', '.join(group['code'].head(20))}", highlight=False, soft_wrap=True)


@annotate_app.command("adjudicate")
@handle_errors
def adjudicate_cmd(
    assignment: Path = typer.Argument(..., help="Assignment folder (after `annotate compare ASSIGNMENT_DIR`)."),
    adjudicator: str = typer.Option(..., "--adjudicator", help="Third person (annotated none of the flagged cases)."),
    output: Path = typer.Option(None, "-o", "--output", help="Adjudicator's folder "
                                                             "[ASSIGNMENT_DIR/adjudication_<NAME>]."),
    agreement: Path = typer.Option(None, "--agreement", help="Agreement CSV [ASSIGNMENT_DIR/agreement.csv]."),
    candidates: bool = typer.Option(True, "--candidates/--no-candidates",
                                    help="Include both annotators' masks under neutral names."),
    seed: int = typer.Option(0, "--seed", help="Seed for the codes, order and candidate naming."),
) -> None:
    """Blinded work list of the flagged cases for an adjudicator, recorded in key.csv."""
    from crosspan.annotate.adjudicate import write_adjudication

    out, n = write_adjudication(assignment, adjudicator.strip(), output, agreement, candidates, seed)
    if n == 0:
        console.print("no case is flagged for adjudication; nothing written (go on with `annotate consensus`)")
        return
    console.print(f"{n} case(s) for {adjudicator} -> {out}/worklist.csv (masks go to {out}/masks); key.csv updated")


@annotate_app.command("consensus")
@handle_errors
def consensus_cmd(
    mask_dirs: list[Path] = typer.Argument(..., help="Assignment folder, or two or more annotators' mask folders."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder for masks/, confidence/ (and manifest.csv)."),
    method: str = typer.Option("staple", "--method", help="staple (SimpleITK), majority, intersection or union."),
    adjudicated: Path = typer.Option(None, "--adjudicated", help="Adjudicated masks (folder form); they win."),
    with_images: bool = typer.Option(False, "--with-images", help="Assignment form: copy the images into "
                                                                  "OUTPUT/images (a self-contained dataset)."),
) -> None:
    """Final masks (adjudicated, else STAPLE / majority / intersection / union) with confidence maps."""
    from crosspan.annotate.consensus import build_consensus, consensus_from_assignment
    from crosspan.annotate.key import is_assignment_dir

    if len(mask_dirs) == 1 and is_assignment_dir(mask_dirs[0]):
        if adjudicated is not None:
            raise CrosspanError(adjudicated, "--adjudicated is for the folder form",
                                "the assignment form finds adjudicated masks through key.csv; drop --adjudicated")
        manifest = consensus_from_assignment(mask_dirs[0], output, method=method, copy_images=with_images)
        counts = ", ".join(f"{k}: {v}" for k, v in manifest["source"].value_counts().items())
        pending = int((manifest["adjudication"] == "pending").sum())
        console.print(f"{len(manifest)} final mask(s) ({counts}) -> {output}/masks; manifest -> "
                      f"{output}/manifest.csv" + (f"; {pending} adjudication(s) still pending" if pending else ""))
        return
    names = build_consensus(mask_dirs, output, method=method, adjudicated=adjudicated)
    console.print(f"{len(names)} consensus mask(s) -> {output}/masks (confidence maps in {output}/confidence)")
