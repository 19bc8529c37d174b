"""Named subsets of a benchmark spec (``subsets:``): a budget knob that keeps a few methods, protocols, seeds and
label ratios, shrinks synthetic cohorts and the step count, and writes to its own output folder, so the spec of a
long benchmark also gives its CI-size smoke run (``crosspan benchmark run SPEC --subset smoke``). This module
parses them (for :mod:`crosspan.bench.spec`); :mod:`crosspan.bench.subset_apply` cuts a spec to one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crosspan.bench.speccheck import Check

SUBSET_KEYS = {"methods", "protocols", "seeds", "label_ratios", "patients", "test_patients", "test_datasets",
               "training"}


@dataclass(frozen=True)
class Subset:
    """What a subset keeps (empty: everything) and overrides (None: unchanged)."""

    name: str
    methods: tuple[str, ...] = ()
    protocols: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()
    label_ratios: tuple[float, ...] = ()
    patients: int | None = None  # patients of the synthetic training cohort
    test_patients: int | None = None  # patients of every synthetic test dataset
    test_datasets: tuple[str, ...] | None = None  # test datasets kept (None: all; []: none)
    training: dict[str, Any] | None = None  # training keys overridden, e.g. {steps: 20}


def parse_subsets(c: Check, value: Any) -> dict[str, Subset]:
    """``subsets: {NAME: {methods: [...], protocols: [...], seeds: [...], training: {steps: N}, ...}}``."""
    out: dict[str, Subset] = {}
    for name, item in c.mapping(value, "subsets", set(map(str, value or {}))).items():
        w = f"subsets.{name}"
        s = c.mapping(item, w, SUBSET_KEYS)
        seeds = s.get("seeds", [])
        out[c.name(str(name), w)] = Subset(
            name=str(name), methods=c.strings(s.get("methods", []), f"{w}.methods"),
            protocols=c.strings(s.get("protocols", []), f"{w}.protocols"),
            seeds=tuple(c.int_(v, f"{w}.seeds") for v in (seeds if isinstance(seeds, list) else [seeds])),
            label_ratios=c.ratios(s["label_ratios"], f"{w}.label_ratios") if "label_ratios" in s else (),
            patients=c.int_(s["patients"], f"{w}.patients", 1) if "patients" in s else None,
            test_patients=c.int_(s["test_patients"], f"{w}.test_patients", 1) if "test_patients" in s else None,
            test_datasets=c.strings(s["test_datasets"], f"{w}.test_datasets") if "test_datasets" in s else None,
            training=dict(c.mapping(s["training"], f"{w}.training", set(map(str, s["training"] or {}))))
            if "training" in s else None)
    return out


__all__ = ["SUBSET_KEYS", "Subset", "parse_subsets"]
