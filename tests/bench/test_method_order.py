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
