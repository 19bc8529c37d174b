"""``crosspan data``: catalog, summary, check, splits, DICOM ingestion, layouts."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from crosspan.cli.common import console, fail, handle_errors, split_list

data_app = typer.Typer(help="Ingest, check, catalog and split datasets.", no_args_is_help=True)

LAYOUT_HELP = "Dataset layout (crosspan, pansegdata, nnunet, nnunetdg, manifest); auto-detected when omitted."


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")


def _print_df(df, title: str) -> None:  # noqa: ANN001 - pandas DataFrame
    table = Table(title=title, show_lines=False)
    for col in df.columns:
        table.add_column(str(col))
    for row in df.itertuples(index=False):
        table.add_row(*[str(v) for v in row])
    console.print(table)


@data_app.command("layouts")
def layouts_cmd() -> None:
    """List the dataset layouts crosspan reads."""
    from crosspan.data.layouts import layouts

    for name, cls in sorted(layouts().items()):
        typer.echo(f"{name:12s} {cls.description}")


@data_app.command("catalog")
@handle_errors
def catalog_cmd(
    dataset: Path = typer.Argument(..., help="Dataset folder, or a manifest CSV."),
    output: Path = typer.Option(Path("catalog.csv"), "-o", "--output", help="Catalog CSV to write."),
    layout: str = typer.Option(None, "--layout", help=LAYOUT_HELP),
    workers: int = typer.Option(None, "--workers", help="Worker processes (default: CPU count)."),
    domains: str = typer.Option(None, "--domains", help="Keep only these domains' scans, CENTER:SEQ patterns "
                                                        "(e.g. '*:T2,S1:*')."),
) -> None:
    """Read every scan and write the catalog: one row per scan (identity, geometry, intensities, label size)."""
    from crosspan.data.catalog import build_catalog, save_catalog
    from crosspan.data.domains import domain_mask

    df, problems = build_catalog(dataset, layout=layout, workers=workers)
    if domains:
        keep = domain_mask(df, split_list(domains))
        if not keep.any():
            raise fail(f"{dataset}: no scan in the domains {domains}; use patterns like S1:T1 or '*:T2' "
                       f"(domains here: {', '.join(sorted(set(df['center'] + ':' + df['sequence'])))})")
        df = df[keep].reset_index(drop=True)
    written = save_catalog(df, output)
    errors = [p for p in problems if p.level == "error"]
    console.print(f"catalog: {len(df)} scans -> {', '.join(map(str, written))}")
    if errors:
        console.print(f"[yellow]{len(errors)} problem(s) found; run `crosspan data check {dataset}` for details")


@data_app.command("summary")
@handle_errors
def summary_cmd(
    source: Path = typer.Argument(..., help="Catalog CSV, dataset folder or manifest."),
    output: Path = typer.Option(None, "-o", "--output", help="Write the domain table as CSV (and .json)."),
    layout: str = typer.Option(None, "--layout", help=LAYOUT_HELP),
) -> None:
    """Center x sequence counts, spacing ranges per domain, label-volume statistics."""
    from crosspan.core.atomic import atomic_path, write_json
    from crosspan.data.catalog import catalog_from
    from crosspan.data.summary import count_table, domain_table

    cat = catalog_from(source, layout=layout)
    counts = count_table(cat)
    _print_df(counts.reset_index(), "scans per center x sequence")
    table = domain_table(cat)
    _print_df(table, "domains")
    if output:
        with atomic_path(output) as tmp:
            table.to_csv(tmp, index=False)
        write_json(Path(output).with_suffix(".json"), {"counts": counts.to_dict(),
                                                       "domains": table.to_dict(orient="records")})
        console.print(f"summary -> {output}")


@data_app.command("check")
@handle_errors
def check_cmd(
    dataset: Path = typer.Argument(..., help="Dataset folder, or a manifest CSV."),
    layout: str = typer.Option(None, "--layout", help=LAYOUT_HELP),
    require_labels: bool = typer.Option(True, "--require-labels/--no-require-labels",
                                        help="An image without a label is an error."),
    label_map: list[str] = typer.Option(None, "--label-map", help="Map label values OLD:NEW, e.g. 255:1."),
    fix_label_geometry: bool = typer.Option(False, "--fix-label-geometry",
                                            help="Copy the image geometry to labels whose header alone disagrees."),
    output: Path = typer.Option(None, "-o", "--output",
                                help="With fixes: folder for corrected labels + manifest (only if the check passes)."),
    workers: int = typer.Option(None, "--workers", help="Worker processes (default: CPU count)."),
    allow_outside_links: bool = typer.Option(False, "--allow-outside-links",
                                             help="Accept symlinks in the dataset that point outside its root "
                                             "(a warning instead of an error)."),
) -> None:
    """Read everything and report every problem (file, problem, fix); exit 1 if any error. Writes nothing then."""
    from crosspan.data.inspect import parse_label_map
    from crosspan.data.validate import check_dataset, write_fixed

    mapping = parse_label_map(label_map)
    report = check_dataset(dataset, layout=layout, require_labels=require_labels, label_map=mapping,
                           fix_label_geometry=fix_label_geometry, workers=workers,
                           allow_links=allow_outside_links)
    for p in report.problems:
        color = "red" if p.level == "error" else "yellow"
        console.print(f"[{color}]{p.line()}[/]", highlight=False, soft_wrap=True)
    n_err, n_warn = len(report.errors), len(report.problems) - len(report.errors)
    if not report.ok:
        console.print(f"[bold red]{n_err} error(s), {n_warn} warning(s) in {len(report.results)} scans "
                      f"(layout {report.layout}); nothing written.")
        raise typer.Exit(1)
    console.print(f"[green]OK[/]: {len(report.results)} scans (layout {report.layout}), {n_warn} warning(s)")
    if output:
        manifest = write_fixed(report, output, mapping, fix_label_geometry)
        console.print(f"fixed dataset manifest -> {manifest}")
    elif mapping or fix_label_geometry:
        console.print("fixes were applied in memory only; pass -o DIR to write corrected labels")


@data_app.command("splits")
@handle_errors
def splits_cmd(
    source: Path = typer.Argument(..., help="Catalog CSV, dataset folder or manifest."),
    protocol: str = typer.Option(..., "--protocol", "-p",
                                 help="in-domain | cross-center | cross-sequence | official"),
    train: str = typer.Option(..., "--train", help="Source domains: CENTER:SEQ list, e.g. A:T1,B:T1, or T1."),
    targets: str = typer.Option("*:*", "--targets", help="Target domains scored in test (default all)."),
    output: Path = typer.Option(Path("splits.json"), "-o", "--output", help="Splits JSON to write."),
    folds: int = typer.Option(5, "--folds", help="Folds for in-domain k-fold."),
    val_fraction: float = typer.Option(0.15, "--val-fraction", help="Share of source patients for validation."),
    test_fraction: float = typer.Option(0.25, "--test-fraction", help="Share of source patients held out for test."),
    label_ratios: str = typer.Option(None, "--label-ratios", help="Labeled share(s) in percent, e.g. 5,10,25,50."),
    unlabeled: str = typer.Option(None, "--unlabeled", help="Domains whose training-patient scans form the "
                                  "unlabeled pool, e.g. *:T2."),
    loco: bool = typer.Option(False, "--leave-one-center-out", help="One split per held-out source center."),
    seed: int = typer.Option(0, "--seed", help="Seed for the patient partition."),
    training_input: str = typer.Option("images", "--training-input",
                                       help="images | label-maps (train label-map methods on the source "
                                       "patients' tissue maps; needs a 'tissue' catalog column)."),
    layout: str = typer.Option(None, "--layout", help=LAYOUT_HELP),
    nnunet_splits_path: Path = typer.Option(None, "--nnunet-splits", help="Also write nnU-Net's splits_final.json "
                                            "(one {train, val} per split) to this path."),
) -> None:
    """Make deterministic, patient-grouped splits (JSON; with --nnunet-splits also nnU-Net's splits_final.json)."""
    from crosspan.core.atomic import write_json
    from crosspan.data.catalog import catalog_from
    from crosspan.data.protocols import ProtocolSpec, make_splits, nnunet_splits, parse_ratios, split_summary

    cat = catalog_from(source, layout=layout, progress=False)
    spec = ProtocolSpec(protocol=protocol, source=split_list(train), targets=split_list(targets) or ["*:*"],
                        folds=folds, val_fraction=val_fraction, test_fraction=test_fraction,
                        label_ratios=parse_ratios(label_ratios), unlabeled=split_list(unlabeled),
                        leave_one_center_out=loco, seed=seed, training_input=training_input)
    doc = make_splits(cat, spec)
    doc["catalog"] = str(source)
    write_json(output, doc)
    if nnunet_splits_path is not None:
        write_json(nnunet_splits_path, nnunet_splits(doc))
    _print_df(split_summary(doc), f"{protocol} splits")
    console.print(f"splits -> {output}" + (f" (nnU-Net: {nnunet_splits_path})" if nnunet_splits_path else ""))


@data_app.command("dicom")
@handle_errors
def dicom_cmd(
    root: Path = typer.Argument(..., help="Folder with one sub-folder per DICOM series."),
    output: Path = typer.Option(..., "-o", "--output", help="Output folder (NIfTI images + manifest.csv)."),
    mapping: Path = typer.Option(None, "--mapping", help="CSV patient_id_original,case_id."),
    salt: str = typer.Option(None, "--salt", envvar="CROSSPAN_SALT", help="Secret salt for hashed case IDs."),
    center: str = typer.Option("unknown", "--center", help="Center of these series."),
    sequence: str = typer.Option(None, "--sequence", help="Sequence of all series (else guessed per series)."),
) -> None:
    """Convert DICOM series to de-identified NIfTI plus a manifest (no DICOM header field is written)."""
    from crosspan.data.dicom_ingest import ingest_dicom

    manifest = ingest_dicom(root, output, salt=salt, mapping=mapping, center=center, sequence=sequence)
    console.print(f"manifest -> {manifest}")


