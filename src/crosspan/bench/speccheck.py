"""The spec file an error names (:class:`Check`), and the checks outside the schema
(:mod:`crosspan.bench.spec_schema`): the ``subsets:`` mapping, whose keys are names."""

from __future__ import annotations

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

    def name(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not NAME.match(value):
            raise self.fail(where, f"invalid name {value!r}", "use letters, digits, '.', '_', '+' or '-'")
        return value


__all__ = ["NAME", "Check"]
