"""One error type for bad input: it names the file, the problem and the fix."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One finding of a check: the file, what is wrong, how to fix it; ``level`` is ``error`` or ``warning``."""

    path: str
    problem: str
    fix: str
    level: str = "error"
    code: str = "generic"

    def line(self) -> str:
        return f"{self.level.upper()}: {self.path}: {self.problem}. Fix: {self.fix}"


class CrosspanError(Exception):
    """Raised for bad input; ``str(err)`` is one line naming the file, the problem and the fix."""

    def __init__(self, path: str | Path | None, problem: str, fix: str, code: str = "generic") -> None:
        self.path = str(path) if path is not None else ""
        self.problem = problem
        self.fix = fix
        self.code = code
        where = f"{self.path}: " if self.path else ""
        super().__init__(f"{where}{problem}. Fix: {fix}")

    def __reduce__(self) -> tuple:
        """Picklable (subclasses too), so an error raised in a worker process reaches the CLI as the same line."""
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[CrosspanError], args: tuple, state: dict) -> CrosspanError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class CrosspanWarning(UserWarning):
    """Something a user should know that does not stop the command (the CLI prints it as one line)."""


def warn(path: str | Path | None, problem: str, fix: str) -> None:
    """Emit one :class:`CrosspanWarning` line: file, problem, what to do."""
    where = f"{path}: " if path else ""
    warnings.warn(f"{where}{problem}. {fix}", CrosspanWarning, stacklevel=2)
