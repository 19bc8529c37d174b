"""Named subsets of a benchmark spec (``subsets:``): a budget knob that keeps a few methods, protocols, seeds and
label ratios, shrinks synthetic cohorts and the step count, and writes to its own output folder, so the spec of a
long benchmark also gives its CI-size smoke run (``crosspan benchmark run SPEC --subset smoke``). This module
parses them (for :mod:`crosspan.bench.spec`); :mod:`crosspan.bench.subset_apply` cuts a spec to one."""

from __future__ import annotations

from dataclasses import field, fields
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict
from pydantic.dataclasses import dataclass as schema

from crosspan.bench.spec_schema import Positive, Ratios, Seeds, Strings, validate
from crosspan.bench.speccheck import Check


@schema(frozen=True, config=ConfigDict(extra="forbid"))
class SubsetKeys:
    """What a subset keeps (empty: everything) and overrides (None: unchanged): the keys under ``subsets.NAME``."""

    methods: Strings = ()
    protocols: Strings = ()
    seeds: Seeds = ()
    label_ratios: Ratios = ()
    patients: Positive | None = None  # patients of the synthetic training cohort
    test_patients: Positive | None = None  # patients of every synthetic test dataset
    test_datasets: Strings | None = None  # test datasets kept (None: all; []: none)
    #: training keys overridden, e.g. {steps: 20} (checked when the subset is applied)
    training: Annotated[dict[str, Any], BeforeValidator(lambda v: {} if v is None else v)] | None = None


@schema(frozen=True, config=ConfigDict(extra="forbid"))
class Subset(SubsetKeys):
    """A named subset."""

    name: str = field(default="")


def parse_subsets(c: Check, value: Any) -> dict[str, Subset]:
    """``subsets: {NAME: {methods: [...], protocols: [...], seeds: [...], training: {steps: N}, ...}}``."""
    out: dict[str, Subset] = {}
    for name, item in c.mapping(value, "subsets", set(map(str, value or {}))).items():
        keys = validate(c, SubsetKeys, item, f"subsets.{name}")
        out[c.name(str(name), f"subsets.{name}")] = Subset(name=str(name), **{f.name: getattr(keys, f.name)
                                                                           for f in fields(keys)})
    return out


__all__ = ["Subset", "SubsetKeys", "parse_subsets"]
