"""``crosspan export``: write a protocol split in another tool's format."""

from __future__ import annotations

from pathlib import Path

import typer

from crosspan.cli.common import console, handle_errors
from crosspan.core.errors import CrosspanError

export_app = typer.Typer(help="Export datasets for other tools.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")


@export_app.command("nnunet")
@handle_errors
def nnunet_cmd(
    source: Path = typer.Argument(..., help="Catalog CSV, dataset folder or manifest."),
    splits: Path = typer.Option(..., "--splits", help="Splits JSON from `crosspan data splits`."),
    output: Path = typer.Option(..., "-o", "--output", help="nnU-Net raw folder (nnUNet_raw)."),
    dataset_id: int = typer.Option(500, "--id", help="nnU-Net dataset id (1-999)."),
    name: str = typer.Option("CrossPan", "--name", help="Dataset name."),
    split: str = typer.Option(None, "--split", help="Split name (default: the first)."),
    copy: bool = typer.Option(False, "--copy", help="Copy files instead of symlinking."),
) -> None:
    """Write an nnU-Net v2 raw dataset (dataset.json, splits_final.json) for one split."""
    from crosspan.data.catalog import catalog_from
    from crosspan.data.export import export_nnunet
    from crosspan.data.splits import Splits

    if not splits.is_file():
        raise CrosspanError(splits, "splits file does not exist", "make one with `crosspan data splits`")
    doc = Splits.load(splits)
    cat = catalog_from(source, progress=False)
    folder = export_nnunet(cat, doc, output, dataset_id, name=name, split_name=split, link=not copy)
    console.print(f"nnU-Net dataset -> {folder}")
