"""`crosspan methods`: every registered method with its kind, paper, hyperparameters and whether it runs here."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from crosspan.cli.common import console, fail, handle_errors

if TYPE_CHECKING:
    from crosspan.methods.base import MethodFacts

def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("methods")(methods_cmd)


def kind(cls: type[MethodFacts]) -> str:
    """Zero-shot (prompted or automatic), or the family of a trained method: the class says
    (:meth:`crosspan.methods.base.MethodFacts.kind_text`)."""
    return cls.kind_text()


def paper(cls: type[MethodFacts]) -> str:
    """The class's paper reference (:meth:`crosspan.methods.base.MethodFacts.reference`)."""
    return cls.reference()


def describe(name: str) -> dict[str, Any]:
    """One method's row: name, kind, paper, hyperparameters (default and range), availability."""
    from crosspan.methods.base import get_method
    from crosspan.methods.hparams import bound_of

    cls = get_method(name)
    reason = cls.unavailable_reason(None)
    hps: dict[str, dict[str, Any]] = {}
    for k, v in cls.default_hparams.items():
        bound = bound_of(cls, k, v)
        hps[k] = {"default": v, **({"range": bound.text()} if bound is not None else {})}
    return {"name": name, "kind": kind(cls), "paper": paper(cls), "trainable": cls.kind == "trainable",
            "training_input": cls.training_input, "needs_unlabeled": cls.needs_unlabeled, "hparams": hps,
            "available": reason is None, "unavailable_reason": reason or ""}


def _hp_text(hps: dict[str, dict[str, Any]]) -> str:
    parts = [f"{k}={v['default']!r}" + (f" ({v['range']})" if "range" in v else "") for k, v in hps.items()]
    return ", ".join(parts) or "-"


@handle_errors
def methods_cmd(
    names: list[str] = typer.Argument(None, help="Only these methods (default: all registered)."),
    output: Path = typer.Option(None, "-o", "--output", help="Also write the list as JSON (a program reads it)."),
) -> None:
    """List registered methods: kind, paper, hyperparameters (defaults, ranges) and whether each can run here
    (zero-shot methods also say why not, e.g. missing weights; the check uses the default hyperparameters, so a
    method needing --hp weights=DIR reads 'no' here until given them)."""
    from crosspan.methods.base import method_names

    known = method_names()
    wanted = list(names or known)
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise fail(f"unknown method(s) {', '.join(unknown)}: use one of {', '.join(known)}")
    rows = [describe(n) for n in wanted]
    if output is not None:
        from crosspan.core.atomic import write_json

        write_json(output, {"methods": rows})
    table = Table(title=f"{len(rows)} methods", title_justify="left", header_style="bold", show_lines=True)
    for col in ("method", "kind", "paper", "hyperparameters (default, range)", "runs here"):
        table.add_column(col, overflow="fold")
    for r in rows:
        here = "yes" if r["available"] else f"no: {r['unavailable_reason']}"
        table.add_row(r["name"], r["kind"], r["paper"], _hp_text(r["hparams"]), here)
    Console(width=max(Console().width, 160)).print(table)
    if output is not None:
        console.print(f"wrote {output}")


__all__ = ["describe", "kind", "paper"]
