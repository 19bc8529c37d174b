"""Shared CLI helpers: one-line errors with a non-zero exit, a console, option parsing."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from crosspan.data.errors import CrosspanError

console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def handle_errors(fn: F) -> F:
    """Turn :class:`CrosspanError` into one printed line and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CrosspanError as err:
            raise fail(str(err)) from None

    return wrapper  # type: ignore[return-value]


def split_list(value: str | None) -> list[str]:
    """``"A,B, C"`` -> ``["A", "B", "C"]``; empty or None -> ``[]``."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]
