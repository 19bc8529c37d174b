"""Numeric bounds of hyperparameters, declared next to the defaults and checked wherever values are given.

A method may set ``hparam_bounds = {"lr": POSITIVE, "p": PROBABILITY}``; bounds are inherited along the class
hierarchy. Every numeric override must be finite, and two conventions hold without a declaration: ``lr`` is
positive, and ``p`` / ``p_*`` with a default in [0, 1] is a probability. A method without bounds still works.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from crosspan.core.errors import CrosspanError


@dataclass(frozen=True)
class Bound:
    """An interval of allowed values; ``low_open``/``high_open`` exclude the end points."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def holds(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def text(self) -> str:
        if self.high == math.inf:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


POSITIVE = Bound(0.0, low_open=True)
NON_NEGATIVE = Bound(0.0)
PROBABILITY = Bound(0.0, 1.0)
UNIT_OPEN = Bound(0.0, 1.0, high_open=True)


def declared_bounds(cls: type) -> dict[str, Bound]:
    """``hparam_bounds`` of ``cls`` and its bases (a subclass overrides)."""
    out: dict[str, Bound] = {}
    for klass in reversed(cls.__mro__):
        out.update(klass.__dict__.get("hparam_bounds", {}))
    return out


def bound_of(cls: type, key: str, default: Any) -> Bound | None:
    declared = declared_bounds(cls)
    if key in declared:
        return declared[key]
    if key == "lr":
        return POSITIVE
    is_number = isinstance(default, (int, float)) and not isinstance(default, bool)
    if (key == "p" or key.startswith("p_")) and is_number and 0.0 <= float(default) <= 1.0:
        return PROBABILITY
    return None


def check_value(cls: type, key: str, value: Any, default: Any) -> None:
    """Refuse a non-finite number or a value outside the hyperparameter's bound (one line, with the fix)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    name = getattr(cls, "name", cls.__name__)
    if not math.isfinite(float(value)):
        raise CrosspanError(None, f"hyperparameter '{key}' of method '{name}' is {value} (not a finite number)",
                            f"write a finite number, e.g. the default --hp {key}={default}", code="hparam_bound")
    bound = bound_of(cls, key, default)
    if bound is not None and not bound.holds(float(value)):
        raise CrosspanError(None, f"hyperparameter '{key}' of method '{name}' must be {bound.text()}, got {value}",
                            f"write --hp {key}=<value {bound.text()}> (default {default})", code="hparam_bound")
