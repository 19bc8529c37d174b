"""The demo's spec is a valid benchmark spec with the promised design (3 centers x 3 sequences, ERM + DG on T1
at two centers, every transfer type scored)."""

from __future__ import annotations

from pathlib import Path

import yaml

from crosspan.bench.jobs import build_plan
from crosspan.bench.spec import load_spec
from crosspan.demo.report import transfer_summary
from crosspan.demo.spec import DemoSettings, demo_spec
from crosspan.methods import method_names


def test_demo_spec_builds_the_promised_plan(tmp_path: Path) -> None:
    path = tmp_path / "demo_spec.yaml"
    path.write_text(yaml.safe_dump(demo_spec(DemoSettings())))
    spec = load_spec(path)
    plan = build_plan(spec)
    assert spec.synthetic is not None and spec.synthetic.centers == ("A", "B", "C")
    assert set(spec.synthetic.sequences) == {"T1", "T2", "OOP"}
    assert [m.method for m in spec.methods][0] == "erm" and len(spec.methods) >= 2
    assert all(m.method in method_names() for m in spec.methods)
    assert spec.protocols[0].train == ("A:T1", "B:T1") and spec.protocols[0].targets == ("*:*",)
    by_set = {t: [j for j in plan.method_jobs if j.info["test_set"] == t] for t in ("in-distribution", "stress")}
    assert len(by_set["in-distribution"]) == len(by_set["stress"]) == len(spec.methods)  # the stress suite beside
    assert [s.name for s in by_set["in-distribution"][0].steps] == ["train", "predict", "evaluate"]
    assert [s.name for s in by_set["stress"][0].steps] == ["predict", "evaluate"]  # never trained on
    assert spec.test_datasets[0].synthetic is not None and spec.test_datasets[0].synthetic.profile == "stress"
    assert all(Path(j.dir).is_relative_to(tmp_path) for j in plan.jobs)


def test_transfer_summary_orders_transfer_types() -> None:
    import pandas as pd

    table = pd.DataFrame({"method": ["erm"] * 4, "transfer": ["cross-sequence", "in-domain", "cross-both",
                                                                "cross-center"], "dice": [0.1, 0.9, 0.05, 0.8]})
    out = transfer_summary(table)
    assert list(out["transfer"]) == ["in-domain", "cross-center", "cross-sequence", "cross-both"]
    assert list(out["dice_mean"]) == [0.9, 0.8, 0.1, 0.05]
    stress = table.assign(test_set="stress", dice=table["dice"] / 2)
    both = transfer_summary(pd.concat([stress, table.assign(test_set="in-distribution")]))
    assert list(both["test_set"]) == ["in-distribution"] * 4 + ["stress"] * 4  # the cohort's own split first
    assert list(both["dice_mean"][4:]) == [0.45, 0.4, 0.05, 0.025]

