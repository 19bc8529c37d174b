"""The CLI-wide handler: every error a command raises becomes one line and a non-zero exit.

A :class:`CrosspanError` keeps its message (file, problem, fix); an ``OSError`` names the file and the reason;
anything else becomes one line naming the command and the hint to rerun with ``--debug``, which shows the
traceback instead. :class:`CrosspanWarning` lines print as ``warning: ...``.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import click
import typer
from typer.core import TyperGroup

try:  # typer >= 0.2x vendors click: its usage errors derive from TyperException, not click's ClickException
    from typer.exceptions import TyperException
except ImportError:  # pragma: no cover - older typer raises click's own exceptions
    TyperException = click.ClickException  # type: ignore[assignment,misc]

from crosspan.cli.common import console, fail
from crosspan.cli.outputs import guard_outputs
from crosspan.core.errors import CrosspanError, CrosspanWarning

if TYPE_CHECKING:  # the context typer passes: its vendored click's, not the click package's
    from typer._click import Context

DEBUG_FLAG = "--debug"
#: advice from libraries that must never reach a user (torch: "re-running with weights_only=False ...")
UNSAFE_ADVICE = ("weights_only", "WeightsUnpickler", "Weights only load failed")


def one_line(text: str, limit: int = 240) -> str:
    """The first line of ``text``, without library advice a user must not follow, at most ``limit`` chars."""
    lines = [t.strip() for t in str(text).splitlines() if t.strip()]
    safe = [t for t in lines if not any(a in t for a in UNSAFE_ADVICE)]
    line = safe[0] if safe else ""
    return line[:limit]


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    if issubclass(category, CrosspanWarning):
        console.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)
    else:
        _DEFAULT_SHOW(message, category, filename, lineno, file, line)


_DEFAULT_SHOW = warnings.showwarning


class GuardedGroup(TyperGroup):
    """The root command group: strips ``--debug`` from anywhere in the arguments, checks every command's output
    path before its body runs (:mod:`crosspan.cli.outputs`) and guards ``invoke``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        guard_outputs(self)

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        cut = args.index("--") if "--" in args else len(args)
        if DEBUG_FLAG in args[:cut]:
            ctx.meta["crosspan_debug"] = True
            args = [a for a in args[:cut] if a != DEBUG_FLAG] + args[cut:]
        ctx.meta["crosspan_command"] = self._command_name(ctx, args)
        return super().parse_args(ctx, args)

    def _command_name(self, ctx: Context, args: list[str]) -> str:
        words = [a for a in args if not a.startswith("-")][:2]
        if not words:
            return "crosspan"
        cmd = self.get_command(ctx, words[0])
        if len(words) > 1 and words[1] in getattr(cmd, "commands", {}):
            return f"crosspan {words[0]} {words[1]}"
        return f"crosspan {words[0]}"

    def invoke(self, ctx: Context) -> Any:
        debug = bool(ctx.meta.get("crosspan_debug"))
        with warnings.catch_warnings():
            warnings.simplefilter("default", CrosspanWarning)
            warnings.showwarning = _show_warning
            try:
                return super().invoke(ctx)
            except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort, typer.Exit, typer.Abort,
                    TyperException):
                raise
            except Exception as err:  # noqa: BLE001 - the one place every remaining error is turned into a line
                if debug:
                    raise
                raise _as_exit(err, str(ctx.meta.get("crosspan_command", "crosspan"))) from None


def _as_exit(err: Exception, command: str) -> typer.Exit:
    if isinstance(err, CrosspanError):
        return fail(one_line(str(err), 1000))
    if isinstance(err, OSError) and (err.filename or err.strerror):
        where = f"{err.filename}: " if err.filename else ""
        return fail(f"{where}{err.strerror or type(err).__name__}. Fix: check that the path exists, is the kind "
                    "expected (a folder for -o) and is writable")
    reason = one_line(str(err)) or "no message"
    return fail(f"{command}: unexpected {type(err).__name__}: {reason}. Rerun with --debug to see the traceback "
                "(and report it if the input looks right)", code=1)
