"""Typed checks of a benchmark spec's values: every problem names the spec file, the key and the fix."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from crosspan.core.errors import CrosspanError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class Check:
    """Collects context (spec file) so every error names the file and the key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, problem: str, fix: str) -> CrosspanError:
        return CrosspanError(self.path, f"{where}: {problem}" if where else problem, fix)

    def mapping(self, value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping, got {type(value).__name__}", f"write `{where}:` as key: value")
        unknown = sorted(set(map(str, value)) - allowed)
        if unknown:
            raise self.fail(where, f"unknown key(s) {', '.join(unknown)}",
                            f"use only {', '.join(sorted(allowed))} (see docs/benchmark.md)")
        return value

    def int_(self, value: Any, where: str, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(where, f"expected an integer >= {minimum}, got {value!r}", f"set {where} to a number")
        return value

    def number(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.fail(where, f"expected a non-negative number, got {value!r}", f"set {where} to a number")
        return float(value)

    def strings(self, value: Any, where: str) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise self.fail(where, f"expected a list of strings, got {value!r}", f"write {where}: [A:T1, B:T1]")
        return tuple(str(v) for v in value)

    def name(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not NAME.match(value):
            raise self.fail(where, f"invalid name {value!r}", "use letters, digits, '.', '_', '+' or '-'")
        return value

    def ratios(self, value: Any, where: str) -> tuple[float, ...]:
        items = value if isinstance(value, list) else [value]
        out = []
        for v in items:
            r = self.number(v, where)
            r = r / 100.0 if r > 1 else r
            if not 0 < r <= 1:
                raise self.fail(where, f"label ratio {v!r} outside (0, 100]", "write percentages like 5, 10, 100")
            out.append(r)
        if not out:
            raise self.fail(where, "empty list", "give at least one label ratio, e.g. [100]")
        return tuple(dict.fromkeys(out))

    def resolve(self, value: Any, where: str, base: Path) -> Path:
        """A path, ``~`` and ``$VARS`` expanded, relative to ``base`` (the spec's folder)."""
        if not isinstance(value, str) or not value:
            raise self.fail(where, f"expected a path, got {value!r}", f"set {where} to a folder path")
        p = Path(os.path.expandvars(os.path.expanduser(value)))
        return p if p.is_absolute() else (base / p).resolve()


__all__ = ["NAME", "Check"]
