"""Per-table method order: the spec's order, or the registry's (family, then each class's table order)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crosspan.bench.collect import method_order
from crosspan.bench.jobs import build_plan
from crosspan.bench.spec import parse_spec
from crosspan.bench.speccheck import Check
from crosspan.bench.tables import parse_tables
from crosspan.core.errors import CrosspanError
from tests.bench.test_standin import write_spec


def test_registry_order_sorts_spec_methods_by_family(tmp_path: Path) -> None:
    raw = yaml.safe_load(write_spec(tmp_path).read_text())
    raw["methods"] = [{"name": "lms", "method": "litemedsam"}, {"name": "mt", "method": "mean-teacher"},
                      {"name": "gin-b", "method": "gin"},
                      {"name": "erm", "method": "erm"}, {"name": "gin-a", "method": "gin"}]
    raw["protocols"][0]["unlabeled"] = ["*:T2"]
    plan = build_plan(parse_spec(raw, tmp_path / "spec.yaml"))
    assert method_order(plan) == ("lms", "mt", "gin-b", "erm", "gin-a")  # the spec's order
    # supervised, dg (both gin entries, in the spec's order), ssl, zero-shot
    assert method_order(plan, "registry") == ("erm", "gin-b", "gin-a", "mt", "lms")


def test_unknown_method_order_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(CrosspanError, match="unknown order 'alphabetic'"):
        parse_tables(Check(tmp_path / "s.yaml"), [{"name": "t", "method_order": "alphabetic"}])


def test_markdown_names_each_tables_own_commits_and_date(tmp_path: Path) -> None:
    """Each table's header: the commits and last finish date of the jobs whose rows it reads (``done`` markers)."""
    import json
    import os

    from crosspan.bench.collect import collect_results, markdown, spec_tables
    from crosspan.bench.spec import load_spec
    from crosspan.bench.sweep import run_plan

    spec = write_spec(tmp_path, seeds=1, steps=1, methods=[{"name": "erm", "method": "erm"}],
                      test_datasets=[{"name": "stress", "synthetic": {"profile": "stress", "seed": 9}}],
                      tables=[{"name": "own", "filter": {"test_set": ["in-distribution"]}},
                              {"name": "all", "columns": ["test_set", "sequence"]}])
    plan = build_plan(load_spec(spec))
    assert run_plan(plan, progress=False)["ok"] == len(plan.jobs)
    for job in plan.method_jobs:  # as if the stress job had finished later, at another commit
        later = job.info["test_set"] == "stress"
        (job.path / "done").write_text(json.dumps({"commit": "bbb2222" if later else "aaa1111"}))
        stamp = 1_800_000_000 + (86_400 * 3 if later else 0)  # 2027-01-15 / 2027-01-18 UTC
        os.utime(job.path / "done", (stamp, stamp))
    table, _, _ = collect_results(plan)
    text = markdown(plan, spec_tables(plan, table), "spec.yaml", table)
    own, every = text.split("### ")[1:]
    assert "at commit aaa1111, finished 2027-01-15" in own
    assert "at commit aaa1111, bbb2222, finished 2027-01-18" in every
