"""Benchmark spec: a YAML file naming the dataset, protocols, methods, seeds, label ratios, budget and executor.

Every problem is reported as a :class:`CrosspanError` naming the spec file, the problem and the fix.
Relative paths in the spec are relative to the spec file's folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import AfterValidator, BeforeValidator, ConfigDict, ValidationInfo, model_validator
from pydantic.dataclasses import dataclass as schema

from crosspan.bench import datasets as _ds
from crosspan.bench.datasets import Synthetic, TestDataset
from crosspan.bench.spec_schema import (
    AtLeastTwo,
    Count,
    FolderPath,
    NonNegative,
    Positive,
    Ratios,
    Seeds,
    SpecName,
    Strings,
    problem,
    validate,
)
from crosspan.bench.speccheck import Check as _Check
from crosspan.core.errors import CrosspanError
from crosspan.data.protocols import PROTOCOLS, ProtocolName, ProtocolSpec, TrainingInputName
from crosspan.evaluation.metrics import METRICS

ExecutorKind = Literal["local", "ray", "slurm"]
Precision = Literal["none", "bf16", "fp16"]
EXECUTORS: tuple[str, ...] = get_args(ExecutorKind)
PRECISIONS: tuple[str, ...] = get_args(Precision)

#: ``crosspan ssl pair`` before preprocessing: none; transported (pseudo-labels, full pool); paired-pool (the pool cut
#: to the paired scans); true-labels (upper bound: the unlabeled scans' TRUE labels, weight 1; results are oracle)
SslPair = Literal["none", "transported", "paired-pool", "true-labels"]
SSL_PAIR: tuple[str, ...] = get_args(SslPair)
#: the protocol defaults live in one place: :class:`crosspan.data.protocols.ProtocolSpec`
_PROTOCOL_DEFAULTS = ProtocolSpec(protocol=PROTOCOLS[0], source=[])
_SCHEMA = ConfigDict(extra="forbid")


def _spacing(value: Any) -> Any:
    """``[4, 3.5, 3.5]`` (z, y, x in mm) as numbers; ``3`` -> isotropic."""
    items = value if isinstance(value, list | tuple) else [value] * 3
    if len(items) != 3 or any(isinstance(v, bool) or not isinstance(v, int | float) or v <= 0 for v in items):
        raise problem(f"expected 3 spacings > 0 in mm (z, y, x), got {value!r}", "write spacing: [4, 3.5, 3.5]")
    return tuple(float(v) for v in items)


#: ``crosspan preprocess --spacing``: the plan's target voxel spacing z, y, x in mm (None: the plan's own choice)
Spacing = Annotated[tuple[float, float, float], BeforeValidator(_spacing)]


@schema(frozen=True, config=_SCHEMA)
class ProtocolEntry:
    """A spec's protocol entry: a :class:`ProtocolSpec` (``train`` is its ``source``; :meth:`protocol_spec`) with a
    name, optional split names and the ``ssl pair`` step. Validated by its field types (pydantic)."""

    name: SpecName
    protocol: ProtocolName
    train: Strings
    targets: Strings = tuple(_PROTOCOL_DEFAULTS.targets)
    label_ratios: Ratios = tuple(_PROTOCOL_DEFAULTS.label_ratios)
    unlabeled: Strings = tuple(_PROTOCOL_DEFAULTS.unlabeled)
    seed: Count = _PROTOCOL_DEFAULTS.seed
    folds: AtLeastTwo = _PROTOCOL_DEFAULTS.folds
    splits: Strings = ()
    val_fraction: NonNegative | None = None  # None: ProtocolSpec's default (not passed to `data splits`)
    test_fraction: NonNegative | None = None
    training_input: TrainingInputName = "images"
    ssl_pair: SslPair = "none"
    spacing: Spacing | None = None  # every split's preprocessing plan at this voxel spacing

    def protocol_spec(self) -> ProtocolSpec:
        """The :class:`ProtocolSpec` that ``crosspan data splits`` builds from this entry."""
        val = _PROTOCOL_DEFAULTS.val_fraction if self.val_fraction is None else self.val_fraction
        test = _PROTOCOL_DEFAULTS.test_fraction if self.test_fraction is None else self.test_fraction
        return ProtocolSpec(protocol=self.protocol, source=list(self.train), targets=list(self.targets),
                            folds=self.folds, val_fraction=val, test_fraction=test,
                            label_ratios=list(self.label_ratios), unlabeled=list(self.unlabeled), seed=self.seed,
                            training_input=self.training_input)


def _method_entry(value: Any) -> Any:
    """``erm`` -> ``{name: erm, method: erm}``; ``name`` and ``method`` default to each other; ``zero_shot`` comes
    from the registry (:func:`_zero_shot`)."""
    if isinstance(value, str):
        value = {"name": value, "method": value}
    if not isinstance(value, dict):
        return value  # a mapping error (or the keyword arguments of ``dataclasses.replace``)
    if "method" not in value and "name" not in value:
        raise problem("missing `method`", "each method needs a `method` (registry name)")
    value = {"name": value.get("method"), "method": value.get("name"), **value}
    return {**value, "zero_shot": _zero_shot(str(value["method"]), value.get("zero_shot"))}


@schema(frozen=True, config=_SCHEMA)
class MethodSpec:
    """A spec's method entry (``- erm`` or ``- {name, method, hp, ...}``). Validated by its field types."""

    name: SpecName
    method: SpecName
    hp: Annotated[dict[str, Any], BeforeValidator(lambda v: {} if v is None else v)] = field(default_factory=dict)
    network: str | None = None
    steps: Positive | None = None
    zero_shot: bool = False
    protocols: Strings = ()  # run only on these protocols (empty: every protocol of its training input)
    prompts_from: SpecName | None = None  # zero-shot: boxes from this trained method's job (same split and seed)

    @model_validator(mode="before")
    @classmethod
    def _entry(cls, value: Any) -> Any:
        return _method_entry(value)


def _patch(value: Any) -> Any:
    """``64`` -> ``(64, 64, 64)``; a list must hold three sizes (z, y, x)."""
    items = value if isinstance(value, list | tuple) else [value] * 3
    if len(items) != 3:
        raise problem(f"expected 3 sizes (z, y, x), got {value!r}", "write patch: [64, 64, 64]")
    return items


def _known_metrics(metrics: tuple[str, ...]) -> tuple[str, ...]:
    bad = [m for m in metrics if m not in METRICS]
    if bad:
        raise problem(f"unknown metric(s) {', '.join(bad)}", f"use {', '.join(METRICS)}")
    return metrics


@schema(frozen=True, config=_SCHEMA)
class Training:
    steps: Positive = 1000
    batch_size: Positive | None = None
    patch: Annotated[tuple[Positive, Positive, Positive], BeforeValidator(_patch)] | None = None
    network: str = "tiny"
    device: str = "auto"
    amp: Precision = "none"
    eval_every: Count = 0  # `train --eval-every`: checkpoints scored on eval_domains (all val/test domains if empty)
    eval_domains: Strings = ()

    def resolved_device(self, executor: Executor) -> str:
        """``auto``: ``cuda`` when the executor gives jobs GPUs, else ``cpu``."""
        if self.device != "auto":
            return self.device
        return "cuda" if executor.gpus_per_job > 0 else "cpu"


@schema(frozen=True, config=_SCHEMA)
class Evaluation:
    tolerance: NonNegative = 2.0
    metrics: Annotated[Strings, AfterValidator(_known_metrics)] = ("dice", "nsd", "hd95")


@schema(frozen=True, config=_SCHEMA)
class Executor:
    kind: ExecutorKind = "local"
    jobs: Positive | None = None
    threads_per_job: Positive = 1
    address: str | None = None
    partition: str | None = None
    time: Positive = 60  # minutes
    gpus_per_job: NonNegative = 0
    cpus_per_job: Positive | None = None
    cluster: str | None = None
    extra: Annotated[dict[str, Any], BeforeValidator(lambda v: {} if v is None else v)] = field(default_factory=dict)

    def workers(self) -> int:
        """Parallel jobs: the spec's ``jobs``, else ``max(1, cpu_count // threads_per_job)``."""
        if self.jobs:
            return self.jobs
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return max(1, cpus // max(1, self.threads_per_job))


@dataclass(frozen=True)
class Spec:
    path: Path
    name: str
    output: Path
    dataset: Path | None
    synthetic: Synthetic | None
    protocols: tuple[ProtocolEntry, ...]
    methods: tuple[MethodSpec, ...]
    seeds: tuple[int, ...]
    training: Training
    evaluation: Evaluation
    executor: Executor
    executable: tuple[str, ...] = ("crosspan",)
    test_datasets: tuple[TestDataset, ...] = ()
    tables: tuple[Any, ...] = ()  # crosspan.bench.tables.TableSpec
    subsets: dict[str, Any] = field(default_factory=dict)  # crosspan.bench.subset.Subset by name


def load_spec(path: str | Path) -> Spec:
    """Read and validate a benchmark spec YAML."""
    path = Path(path)
    if not path.is_file():
        raise CrosspanError(path, "spec file not found", "pass the path of a benchmark YAML (see benchmarks/specs/)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise CrosspanError(path, f"not valid YAML ({str(err).splitlines()[0]})", "fix the YAML syntax") from None
    except UnicodeDecodeError as err:
        raise CrosspanError(path, f"not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset {err.start}; a "
                            "binary file?)", "pass the benchmark YAML, saved as UTF-8") from None
    return parse_spec(raw, path)


def _command(value: Any) -> Any:
    """``executable: "python -m crosspan"`` -> its words."""
    return value.split() if isinstance(value, str) else value


def _executable(words: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
    """Words starting ``./`` or ``../`` are paths from the spec's folder."""
    if not words:
        raise problem("empty", "leave it out (default: crosspan)")
    base = Path((info.context or {}).get("base", "."))
    return tuple(str((base / w).resolve()) if w.startswith(("./", "../")) else w for w in words)


def _some_seed(seeds: tuple[int, ...]) -> tuple[int, ...]:
    if not seeds:
        raise problem("empty list", "give at least one seed, e.g. [0]")
    return seeds


@schema(frozen=True, config=_SCHEMA)
class SpecKeys:
    """The spec's top-level keys; each section (dataset, protocols, methods, ...) is validated by its own schema."""

    name: SpecName
    output: FolderPath
    dataset: Any
    protocols: Any
    methods: Any
    seeds: Annotated[Seeds, AfterValidator(_some_seed)] = (0,)
    label_ratios: Ratios = (1.0,)  # default of every protocol's label_ratios
    training: Any = None
    evaluation: Any = None
    executor: Any = None
    executable: Annotated[Strings, BeforeValidator(_command), AfterValidator(_executable)] = ("crosspan",)
    test_datasets: Any = None
    tables: Any = None
    subsets: Any = None


TOP_KEYS = {f.name for f in fields(SpecKeys)}


def parse_spec(raw: Any, path: Path) -> Spec:
    """Validate a parsed spec mapping; ``path`` is used in errors and to resolve relative paths."""
    c = _Check(path)
    base = path.parent
    top = validate(c, SpecKeys, raw, "", "see the example in docs/benchmark.md", context={"base": base})
    ds = _ds.parse_dataset(c, top.dataset, base)
    dataset, synthetic = ds.path, ds.synthetic
    protocols = _protocols(c, top.protocols, top.label_ratios)
    if synthetic is not None and any(p.training_input == "label-maps" for p in protocols):
        synthetic = replace(synthetic, tissue_maps=True)
    methods = _methods(c, top.methods, {p.name for p in protocols})
    _ds.refuse_training_on_stress(c, synthetic, any(not m.zero_shot for m in methods))
    from crosspan.bench.subset import parse_subsets
    from crosspan.bench.tables import parse_tables

    return Spec(path=path, name=top.name, output=top.output, dataset=dataset, synthetic=synthetic,
                protocols=protocols, methods=methods, seeds=top.seeds, training=_training(c, top.training),
                evaluation=_evaluation(c, top.evaluation), executor=_executor(c, top.executor),
                executable=top.executable,
                test_datasets=_ds.parse_test_datasets(c, top.test_datasets, base, dataset, synthetic),
                tables=parse_tables(c, top.tables), subsets=parse_subsets(c, top.subsets))


def _protocols(c: _Check, value: Any, ratios: tuple[float, ...]) -> tuple[ProtocolEntry, ...]:
    if not isinstance(value, list) or not value:
        raise c.fail("protocols", "expected a non-empty list", "list protocols as `- {name: ..., protocol: ...}`")
    out = []
    for i, item in enumerate(value):
        w = f"protocols[{i}]"
        if isinstance(item, dict) and "label_ratios" not in item:
            item = {**item, "label_ratios": ratios}  # the spec's top-level ratios
        p = validate(c, ProtocolEntry, item, w, "each protocol needs name, protocol and train")
        if p.ssl_pair != "none" and not p.unlabeled:
            raise c.fail(f"{w}.ssl_pair", "needs an unlabeled pool to pair", "add `unlabeled: [\"*:OOP\", \"*:T2\"]`")
        out.append(p)
    _unique(c, [p.name for p in out], "protocols")
    return tuple(out)


def _methods(c: _Check, value: Any, protocols: set[str]) -> tuple[MethodSpec, ...]:
    if not isinstance(value, list) or not value:
        raise c.fail("methods", "expected a non-empty list", "list methods as `- {name: erm, method: erm}`")
    out = [validate(c, MethodSpec, item, f"methods[{i}]") for i, item in enumerate(value)]
    for i, m in enumerate(out):
        if set(m.protocols) - protocols:
            raise c.fail(f"methods[{i}].protocols", f"unknown protocol(s) "
                         f"{', '.join(sorted(set(m.protocols) - protocols))}",
                         f"use protocol names of this spec: {', '.join(sorted(protocols))}")
    _unique(c, [m.name for m in out], "methods")
    _check_prompt_sources(c, out)
    return tuple(out)


def _zero_shot(name: str, flag: Any) -> bool:
    """Whether method ``name`` is zero-shot: the registry says (each class declares its ``kind``). An old spec's
    ``zero_shot`` flag is read when it agrees and refused when it contradicts the class; for a name that is not
    registered (a plugin, a method that lands later) the flag is all there is (default false)."""
    from crosspan.methods.base import registered_kind

    if flag is not None and not isinstance(flag, bool):
        raise problem(f"expected true/false, got {flag!r}", "drop zero_shot (the registry knows each method's kind)",
                      "zero_shot")
    kind = registered_kind(name)
    if kind is None:
        return bool(flag)
    if flag is not None and flag != (kind == "zero-shot"):
        raise problem(f"zero_shot: {str(flag).lower()}, but '{name}' is a {kind} method",
                      "drop zero_shot: the registry knows each method's kind (`crosspan methods`)", "zero_shot")
    return kind == "zero-shot"


def _check_prompt_sources(c: _Check, methods: list[MethodSpec]) -> None:
    """``prompts_from`` names a trained method of the spec, and only a zero-shot method takes prompts from it."""
    trained = {m.name for m in methods if not m.zero_shot}
    for i, m in enumerate(methods):
        if m.prompts_from is None:
            continue
        if not m.zero_shot:
            raise c.fail(f"methods[{i}].prompts_from", "only a zero-shot method takes boxes from another method",
                         "remove `prompts_from`, or use it on a zero-shot method (e.g. litemedsam)")
        if m.prompts_from not in trained:
            raise c.fail(f"methods[{i}].prompts_from", f"{m.prompts_from!r} is not a trained method of this spec",
                         f"use one of {', '.join(sorted(trained)) or '(none: add a trained method)'}")


def _training(c: _Check, value: Any) -> Training:
    return validate(c, Training, value, "training")


def _evaluation(c: _Check, value: Any) -> Evaluation:
    return validate(c, Evaluation, value, "evaluation")


def _executor(c: _Check, value: Any) -> Executor:
    return validate(c, Executor, value, "executor")


def _unique(c: _Check, names: list[str], where: str) -> None:
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise c.fail(where, f"duplicate name(s) {', '.join(dup)}", "give every entry its own name")


def method_warnings(spec: Spec) -> list[str]:
    """Trained methods that are not registered, hyperparameters they do not have (their train step would fail), or a
    burn-in / warm-up no shorter than the run (the method would train as ERM: ``MethodFacts.dormant_reason``).
    Warnings, not errors: a spec may name methods that land later or live in a plugin. A value outside a
    registered method's bound (``lr: -1``, a probability of 7, NaN) is an error (:mod:`crosspan.methods.hparams`)."""
    try:
        from crosspan.methods.base import get_method, method_names, resolve_hparams
    except ImportError as err:  # pragma: no cover - the engine is part of crosspan
        return [f"cannot check methods ({err})"]
    known = method_names()
    out = []
    for m in spec.methods:
        if m.zero_shot:
            continue
        if m.method not in known:
            out.append(f"method {m.name}: `{m.method}` is not registered (known: {', '.join(known)}); its train step "
                       "will fail")
            continue
        try:
            cls = get_method(m.method)
            dormant = cls.dormant_reason(resolve_hparams(cls, {k: v for k, v in m.hp.items()}),
                                         m.steps or spec.training.steps)
            if dormant:
                out.append(f"method {m.name}: {dormant} (give it hp: {{KEY: N}} below the steps)")
        except CrosspanError as err:
            if err.code == "hparam_bound":  # a value no run can use: an error in the spec, not a warning
                raise CrosspanError(None, f"spec method {m.name}: {err.problem}", err.fix.replace("--hp ", "hp: "),
                                    code=err.code) from None
            out.append(f"method {m.name}: {err.problem}; its train step will fail")
    return out


__all__ = ["EXECUTORS", "PROTOCOLS", "SSL_PAIR", "Evaluation", "Executor", "MethodSpec", "ProtocolEntry", "Spec",
           "SpecKeys", "Synthetic", "TestDataset", "Training", "load_spec", "method_warnings", "parse_spec"]
