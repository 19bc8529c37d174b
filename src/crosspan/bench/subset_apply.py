"""A benchmark spec cut to one of its named subsets (``crosspan benchmark run SPEC --subset NAME``); the subsets
themselves are parsed in :mod:`crosspan.bench.subset`."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from crosspan.bench.spec import _training
from crosspan.bench.speccheck import Check
from crosspan.bench.subset import Subset


def apply_subset(spec: Any, name: str) -> Any:
    """``spec`` (a :class:`crosspan.bench.spec.Spec`) cut to its subset ``name``: output ``<output>-<name>``, spec
    name ``<name>-<subset>``. Every problem (an unknown subset, method or protocol, a method whose protocols or
    prompt source were cut away) is a one-line spec error."""
    c = Check(spec.path)
    if name not in spec.subsets:
        known = ", ".join(sorted(spec.subsets)) or "none"
        raise c.fail("subsets", f"no subset {name!r} (defined: {known})",
                     "pass one of the spec's subsets, or add it under `subsets:`")
    sub: Subset = spec.subsets[name]
    w = f"subsets.{name}"
    protocols = _keep(c, spec.protocols, sub.protocols, f"{w}.protocols")
    if sub.label_ratios:
        protocols = tuple(replace(p, label_ratios=tuple(r for r in p.label_ratios if r in sub.label_ratios))
                          for p in protocols)
        empty = [p.name for p in protocols if not p.label_ratios]
        if empty:
            raise c.fail(f"{w}.label_ratios", f"protocol(s) {', '.join(empty)} keep no label ratio",
                         "keep one of their ratios, or leave those protocols out of the subset")
    kept = {p.name for p in protocols}
    methods = _keep(c, spec.methods, sub.methods, f"{w}.methods")
    cut = [m.name for m in methods if m.protocols and not kept & set(m.protocols)]
    if cut:
        raise c.fail(f"{w}.protocols", f"method(s) {', '.join(cut)} lose every protocol they run on",
                     "keep one of their protocols, or leave those methods out of the subset")
    methods = tuple(replace(m, protocols=tuple(p for p in m.protocols if p in kept)) for m in methods)
    names = {m.name for m in methods}
    orphans = [m.name for m in methods if m.prompts_from and m.prompts_from not in names]
    if orphans:
        raise c.fail(f"{w}.methods", f"method(s) {', '.join(orphans)} take prompts from a method the subset drops",
                     "keep their `prompts_from` method too")
    tests = spec.test_datasets
    if sub.test_datasets is not None:
        tests = _keep(c, spec.test_datasets, sub.test_datasets, f"{w}.test_datasets", allow_empty=True)
    if sub.test_patients:
        tests = tuple(replace(t, synthetic=replace(t.synthetic, patients=sub.test_patients)) if t.synthetic else t
                      for t in tests)
    synthetic = spec.synthetic
    if sub.patients and synthetic is not None:
        synthetic = replace(synthetic, patients=sub.patients)
    training = spec.training
    if sub.training is not None:
        raw = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(spec.training).items()
               if v is not None and not (k == "eval_domains" and not v)}
        training = _training(c, {**raw, **sub.training})
        if "steps" in sub.training:  # the subset's budget also caps per-method step counts
            methods = tuple(replace(m, steps=min(m.steps, training.steps)) if m.steps else m for m in methods)
    return replace(spec, name=f"{spec.name}-{name}", output=spec.output.with_name(f"{spec.output.name}-{name}"),
                   methods=methods, protocols=protocols, seeds=sub.seeds or spec.seeds, synthetic=synthetic,
                   test_datasets=tests, training=training, subsets={})


def _keep(c: Check, items: tuple[Any, ...], names: tuple[str, ...], where: str,
          allow_empty: bool = False) -> tuple[Any, ...]:
    """The entries of ``items`` named in ``names`` (all when ``names`` is empty, unless ``allow_empty``), in the
    spec's order; an unknown name is an error."""
    if not names and not allow_empty:
        return items
    known = [i.name for i in items]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise c.fail(where, f"unknown name(s) {', '.join(unknown)}", f"use names of this spec: {', '.join(known)}")
    return tuple(i for i in items if i.name in names)


__all__ = ["apply_subset"]
