"""Tables of a benchmark spec (``tables:``): rows (method, label ratio, ...) x columns (test set, sequence, ...) of
one metric, each cell the mean over every seed's cases with the seed SD and a 95 % patient-clustered bootstrap CI
(:func:`crosspan.evaluation.stats.aggregate`); rows and columns in the spec's order (methods: the order of the
spec's ``methods`` list unless the table says otherwise). ``crosspan benchmark collect SPEC --markdown`` writes
them as pasted into BENCHMARKS.md, with the commit and date they were measured at."""

from __future__ import annotations

from dataclasses import field
from typing import Annotated, Any, Literal, get_args

import numpy as np
import pandas as pd
from pydantic import AfterValidator, BeforeValidator, ConfigDict, model_validator
from pydantic.dataclasses import dataclass as schema

from crosspan.bench.spec_schema import SpecName, Strings, problem, validate
from crosspan.bench.speccheck import Check

MethodOrder = Literal["spec", "registry"]  # methods in the spec's order, or the registry's (family, then table_order)
METHOD_ORDERS: tuple[str, ...] = get_args(MethodOrder)
#: keys derived from a results row besides its own columns (see :func:`derive_keys`)
DERIVED = ("site", "target", "labels")


def _metric(value: str) -> str:
    from crosspan.evaluation.metrics import METRICS

    if value not in METRICS:
        raise problem(f"unknown metric {value!r}", f"use {', '.join(METRICS)}")
    return value


@schema(frozen=True, config=ConfigDict(extra="forbid"))
class TableSpec:
    name: SpecName
    title: Annotated[str, BeforeValidator(str)] = ""
    metric: Annotated[str, BeforeValidator(str), AfterValidator(_metric)] = "dice"
    rows: Strings = ("method",)
    columns: Strings = ("test_set", "sequence")
    order: dict[str, Strings] = field(default_factory=dict)  # keys: the table's rows and columns
    filter: dict[str, Strings] = field(default_factory=dict)
    spread: str | None = None  # a column key: best minus worst mean across its values
    method_order: MethodOrder = "spec"  # an explicit ``order: {method: [...]}`` wins

    @model_validator(mode="after")
    def _keys_of_this_table(self) -> TableSpec:
        if self.spread is not None and self.spread not in self.columns:
            raise problem(f"{self.spread!r} is not one of the table's columns", f"use one of {self.columns}",
                          "spread")
        allowed = {*self.rows, *self.columns}
        unknown = sorted(set(self.order) - allowed)
        if unknown:
            raise problem(f"unknown key(s) {', '.join(unknown)}",
                          f"use only {', '.join(sorted(allowed))} (see docs/benchmark.md)", "order")
        return self


def parse_tables(c: Check, value: Any) -> tuple[TableSpec, ...]:
    """``tables:`` a list of table specs; unknown keys and metrics are errors."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise c.fail("tables", "expected a list", "write `tables: [{name: main, columns: [test_set, sequence]}]`")
    out = [validate(c, TableSpec, item, f"tables[{i}]", "give each table a name") for i, item in enumerate(value)]
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise c.fail("tables", "duplicate table names", "give every table its own name")
    return tuple(out)


def derive_keys(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``site`` (in-center: a training center; cross-center), ``target`` (in-domain, cross-center,
    ``<trained sequences>-><sequence>``) and ``labels`` (label ratio in percent) to a collected results table."""
    df = df.copy()
    transfer = df.get("transfer", pd.Series("unknown", index=df.index)).astype(str)
    df["site"] = np.where(transfer.isin(["in-domain", "cross-sequence"]), "in-center", "cross-center")
    train = df.get("train_domains", pd.Series("", index=df.index)).fillna("").astype(str)
    seqs = train.map(lambda t: "+".join(dict.fromkeys(d.rpartition(":")[2] for d in t.split(",") if d)))
    df["target"] = np.where(transfer.isin(["in-domain", "cross-center"]), transfer,
                            seqs + "->" + df["sequence"].astype(str))
    if "label_ratio" in df.columns:
        df["labels"] = (pd.to_numeric(df["label_ratio"], errors="coerce") * 100).round().astype("Int64").astype(str)
    return df


def _ordered(values: list[str], order: tuple[str, ...]) -> list[str]:
    return [v for v in order if v in values] + sorted(v for v in values if v not in order)


def build_table(results: pd.DataFrame, table: TableSpec, method_order: tuple[str, ...] = (),
                n_boot: int = 2000) -> pd.DataFrame:
    """One row per row key, one cell column per column key: ``mean ±seed SD [CI low, CI high]`` (no SD from one
    seed), plus ``spread``. Hidden columns ``_n <cell>`` (scored cases) and ``_seeds <cell>`` (seeds) per cell."""
    from crosspan.evaluation.stats import aggregate, prepare_results

    df = derive_keys(prepare_results(results.copy()))
    if "status" in df.columns:
        df = df[~df["status"].astype(str).str.lower().eq("skipped")]
    for column, keep in table.filter.items():
        if column in df.columns:
            df = df[df[column].astype(str).isin(keep)]
    keys = [*table.rows, *table.columns]
    missing = [k for k in keys if k not in df.columns]
    if missing or df.empty:
        return pd.DataFrame()
    for k in keys:
        df[k] = df[k].astype(str)
    agg = aggregate(df, keys, metrics=[table.metric], n_boot=n_boot, seed=0).set_index(keys)
    seed_means = df.groupby([*keys, "seed"])[table.metric].mean().groupby(level=list(range(len(keys))))
    seed_sd, n_seeds = seed_means.std(ddof=1), seed_means.size()  # one seed: SD NaN, shown blank
    order = {"method": method_order, **table.order}
    row_ids = _combos(df, list(table.rows), order)
    col_ids = _combos(df, list(table.columns), order)
    m = table.metric
    out = []
    for r in row_ids:
        line: dict[str, object] = dict(zip(table.rows, r, strict=True))
        for col in col_ids:
            key = (*r, *col)
            label = " ".join(col)
            if key not in agg.index:
                line[label] = "-"
                continue
            a = agg.loc[key]
            sd = seed_sd.get(key, np.nan)
            sd_text = f" ±{sd:.3f}" if np.isfinite(sd) else ""
            line[label] = f"{a[f'{m}_mean']:.3f}{sd_text} [{a[f'{m}_ci_low']:.3f}, {a[f'{m}_ci_high']:.3f}]"
            line[f"_n {label}"] = int(a["n"])
            line[f"_seeds {label}"] = int(n_seeds.get(key, 0))
        if table.spread:
            _add_spread(line, r, col_ids, list(table.columns), table.spread, agg, m)
        out.append(line)
    return pd.DataFrame(out)


def _combos(df: pd.DataFrame, keys: list[str], order: dict[str, tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Observed combinations of ``keys``, each key in its order (nested: the first key varies slowest)."""
    present = set(df[keys].drop_duplicates().itertuples(index=False, name=None))
    levels = [_ordered(sorted(df[k].unique()), order.get(k, ())) for k in keys]
    combos: list[tuple[str, ...]] = [()]
    for level in levels:
        combos = [(*c, v) for c in combos for v in level]
    return [c for c in combos if c in present]


def _add_spread(line: dict[str, object], r: tuple[str, ...], col_ids: list[tuple[str, ...]], columns: list[str],
                spread: str, agg: pd.DataFrame, metric: str) -> None:
    """Best minus worst mean across ``spread``'s values, per value of the other column keys."""
    i = columns.index(spread)
    groups: dict[tuple[str, ...], list[float]] = {}
    for col in col_ids:
        key = (*r, *col)
        if key in agg.index:
            groups.setdefault(col[:i] + col[i + 1:], []).append(float(agg.loc[key][f"{metric}_mean"]))
    for rest, means in groups.items():
        line[" ".join(("spread", *rest))] = f"{max(means) - min(means):.3f}"


def visible_columns(table: pd.DataFrame) -> list[str]:
    """A built table's columns without the hidden per-cell counts (``_n ...``, ``_seeds ...``)."""
    return [str(c) for c in table.columns if not str(c).startswith("_")]


def row_seeds(table: pd.DataFrame) -> pd.Series:
    """Seeds behind each row of a built table: the most over its cells (0 for a row without results)."""
    cols = [c for c in table.columns if str(c).startswith("_seeds ")]
    if table.empty or not cols:
        return pd.Series(0, index=table.index, dtype=int)
    return table[cols].max(axis=1).fillna(0).astype(int)


def to_markdown(table: pd.DataFrame, spec: TableSpec) -> str:
    """A GitHub markdown table; column headers carry the number of scored cases (``n``)."""
    if table.empty:
        return "(no results yet)\n"
    cols = visible_columns(table)
    heads = []
    for c in cols:
        n = table.get(f"_n {c}")
        heads.append(f"{c} (n={int(n.max())})" if n is not None and n.notna().any() else str(c))
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(cols)]
    for row in table[cols].itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


__all__ = ["DERIVED", "TableSpec", "build_table", "derive_keys", "parse_tables", "row_seeds", "to_markdown",
           "visible_columns"]
