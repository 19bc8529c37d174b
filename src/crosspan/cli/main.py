"""The ``crosspan`` command: each command group lives in its own module with a ``register(app)`` function."""

from __future__ import annotations

import importlib

import typer

from crosspan import __version__
from crosspan.cli.guard import GuardedGroup

app = typer.Typer(
    name="crosspan",
    help="Cross-sequence and cross-center MRI pancreas segmentation: data, synthesis, training, evaluation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=GuardedGroup,
)

# One module per command group; each exposes register(app).
COMMAND_MODULES = ("data", "export", "synth", "preprocess", "train", "predict", "evaluate", "report",
                   "benchmark", "demo", "annotate", "ssl", "methods")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"crosspan {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback of an unexpected error (accepted "
                               "anywhere on the command line)."),
) -> None:
    """crosspan command line."""


for _name in COMMAND_MODULES:
    importlib.import_module(f"crosspan.cli.{_name}").register(app)
