"""Spec tables: methods in the spec's order, cells pooled over seeds with the seed SD and a patient CI, spread
across sequences per test set, and `benchmark collect --markdown` with the command, commit and date."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from crosspan.bench.speccheck import Check
from crosspan.bench.tables import TableSpec, build_table, parse_tables, to_markdown
from crosspan.core.errors import CrosspanError
from tests.bench.test_standin import write_spec


def _results() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for method, level in (("zeta", 0.8), ("alpha", 0.3)):
        for test_set in ("in-distribution", "stress"):
            for seq, shift in (("T1", 0.0), ("T2", -0.1)):
                for seed in (0, 1, 2):
                    for p in range(4):
                        rows.append({"case_id": f"{test_set}{p}_{seq}", "patient_id": f"{test_set}{p}",
                                     "center": "A", "sequence": seq, "method": method, "run": f"r{seed}",
                                     "seed": seed, "test_set": test_set, "label_ratio": 1.0,
                                     "train_domains": "A:T1", "dice": level + shift + 0.01 * seed
                                     + rng.normal(0, 0.01)})
    return pd.DataFrame(rows)


def test_cells_rows_order_and_spread() -> None:
    df = _results()
    spec = TableSpec(name="t", columns=("test_set", "sequence"), spread="sequence")
    table = build_table(df, spec, method_order=("zeta", "alpha"), n_boot=200)
    assert table["method"].tolist() == ["zeta", "alpha"]  # the spec's order, not alphabetical
    g = df[(df.method == "zeta") & (df.test_set == "stress") & (df.sequence == "T2")]
    cell = table.loc[0, "stress T2"]
    mean, sd = float(cell.split()[0]), float(cell.split()[1].lstrip("±"))
    assert mean == pytest.approx(g["dice"].mean(), abs=5e-4)
    assert sd == pytest.approx(g.groupby("seed")["dice"].mean().std(ddof=1), abs=5e-4)
    low, high = (float(v) for v in cell.split("[")[1].rstrip("]").split(", "))
    assert low < mean < high
    m = df[df.method == "alpha"].groupby(["test_set", "sequence"])["dice"].mean()
    assert float(table.loc[1, "spread stress"]) == pytest.approx(m["stress"].max() - m["stress"].min(), abs=5e-4)
    text = to_markdown(table, spec)
    assert text.splitlines()[0].startswith("| method | in-distribution T1 (n=12) |") and "| zeta |" in text
    only = build_table(df, TableSpec(name="s", filter={"test_set": ("stress",)}), ("zeta", "alpha"), n_boot=50)
    assert [c for c in only.columns if not c.startswith("_")] == ["method", "stress T1", "stress T2"]


def test_oracle_as_a_row_key_keeps_both_kinds_of_rows() -> None:
    """benchmarks/specs/foundation.yaml's rows [method, oracle]: the aggregate's own oracle flag overwrote the row
    key ("False" read as true), so every cell was empty."""
    df = _results()
    df["oracle"] = df["method"].eq("alpha")
    table = build_table(df, TableSpec(name="f", rows=("method", "oracle"), columns=("sequence",)),
                        ("zeta", "alpha"), n_boot=50)
    assert table[["method", "oracle"]].values.tolist() == [["zeta", "False"], ["alpha", "True"]]
    assert all(table[c].str.match(r"^\d\.\d{3}").all() for c in ("T1", "T2")), table


def test_bad_tables_are_spec_errors(tmp_path: Path) -> None:
    c = Check(tmp_path / "spec.yaml")
    with pytest.raises(CrosspanError, match="unknown metric"):
        parse_tables(c, [{"name": "t", "metric": "accuracy"}])
    with pytest.raises(CrosspanError, match="not one of the table's columns"):
        parse_tables(c, [{"name": "t", "columns": ["sequence"], "spread": "center"}])
    with pytest.raises(CrosspanError, match="unknown key"):
        parse_tables(c, [{"name": "t", "order": {"colour": ["x"]}}])


def test_collect_markdown_writes_tables_with_command_commit_and_date(tmp_path: Path) -> None:
    from crosspan.bench.provenance import code_commit
    from crosspan.cli.main import app

    spec = write_spec(tmp_path, seeds=2, steps=1, tables=[{"name": "main", "title": "Main table",
                                                           "columns": ["test_set", "sequence"]}],
                      test_datasets=[{"name": "stress", "synthetic": {"profile": "stress", "seed": 9}}],
                      methods=[{"name": "zs", "method": "medsam", "zero_shot": True},
                               {"name": "erm", "method": "erm"}])
    res = CliRunner().invoke(app, ["benchmark", "run", str(spec), "--no-collect"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["benchmark", "collect", str(spec), "--markdown", "--no-report"])
    assert res.exit_code == 0, res.output
    text = (tmp_path / "out" / "tables.md").read_text()
    lines = text.splitlines()
    assert lines[0] == "### Main table" and f"`crosspan benchmark run {spec}`" in lines[2]
    commit = code_commit()
    assert (commit or "unknown") in lines[2] and "finished 20" in lines[2]
    rows = [r for r in lines if r.startswith("| zs") or r.startswith("| erm")]
    assert [r.split(" |")[0] for r in rows] == ["| zs", "| erm"]  # the spec's method order
    assert "±" not in rows[0] and "±" in rows[1]  # zs ran once (its prediction has no seed): no seed SD
    assert "Seeds: zs (n_seeds = 1): zero-shot" in text and "erm (n_seeds" not in text
    assert "stress T2" in lines[4] and yaml.safe_load(spec.read_text())["tables"][0]["name"] == "main"
