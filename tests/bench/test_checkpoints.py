"""Benchmarks with `training.eval_every`: train flags, unchanged job ids without it, checkpoint tables collected
with each selection rule's pick (oracle marked)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from crosspan.bench.collect import collect_checkpoints, collect_results
from crosspan.bench.jobs import build_plan
from crosspan.bench.spec import load_spec
from crosspan.bench.sweep import run_plan
from tests.bench.test_standin import write_spec
from tests.evaluation.test_checkpoint_curves import checkpoint_table


def _with_eval(path: Path, **training: object) -> Path:
    spec = yaml.safe_load(path.read_text())
    spec["training"].update(training)
    path.write_text(yaml.safe_dump(spec))
    return path


def test_eval_every_reaches_train_and_leaves_other_job_ids_alone(tmp_path: Path) -> None:
    for sub in "abc":
        (tmp_path / sub).mkdir()
    plain = build_plan(load_spec(write_spec(tmp_path / "a", seeds=1, steps=2)))
    again = build_plan(load_spec(_with_eval(write_spec(tmp_path / "b", seeds=1, steps=2), eval_every=0)))
    scored = build_plan(load_spec(_with_eval(write_spec(tmp_path / "c", seeds=1, steps=2), eval_every=1,
                                             eval_domains=["A:T1", "A:OOP"])))
    assert [j.id for j in plain.method_jobs] == [j.id for j in again.method_jobs]  # old sweeps still resume
    erm = next(j for j in scored.method_jobs if j.info["method"] == "erm")
    train = next(s for s in erm.steps if s.name == "train").args
    assert train[train.index("--eval-every") + 1] == "1" and "A:T1,A:OOP" in train
    assert erm.id not in {j.id for j in plain.method_jobs}


def test_collect_checkpoints_tags_rows_and_writes_selection(tmp_path: Path) -> None:
    plan = build_plan(load_spec(write_spec(tmp_path, seeds=1, steps=1)))
    run_plan(plan, progress=False)
    _, _, results = collect_results(plan)
    assert collect_checkpoints(plan, results) is None  # no job scored checkpoints
    erm = next(j for j in plan.method_jobs if j.info["method"] == "erm")
    checkpoint_table(erm.path / "run" / "checkpoints.csv")
    out, sel = collect_checkpoints(plan, results)
    table = pd.read_csv(out)
    assert set(table["run"]) == {erm.id} and set(table["protocol"]) == {"xseq"}
    assert set(table["split"]) == {"val", "test"} and set(table["protocol_split"]) == {erm.info["split"]}
    written = pd.read_csv(out.with_name("selection.csv"))
    assert set(written["rule"]) == {"training-domain", "oracle"} and written.loc[written["rule"] == "oracle",
                                                                                 "oracle"].all()
    assert (sel["protocol"] == "xseq").all() and not sel.loc[sel["rule"] == "training-domain", "oracle"].any()


def test_curve_table_averages_each_step_over_seeds_and_marks_test_oracle() -> None:
    from crosspan.bench.curves import curve_markdown, curve_table

    rows = []
    for seed, shift in ((0, 0.0), (1, 0.1)):
        for step, base in ((500, 0.5), (1000, 0.7)):
            for split, case in (("val", "v1"), ("val", "v2"), ("test", "t1")):
                dice = base + shift + (0.2 if split == "test" else 0.0) + (0.02 if case == "v2" else 0.0)
                rows.append({"method": "erm", "protocol": "ind", "label_ratio": 1.0, "seed": seed, "split": split,
                             "case_id": f"{case}-{seed}", "checkpoint": step, "dice": dice})
    df = pd.DataFrame(rows)
    table = curve_table(df)
    assert list(table.index) == [500, 1000]
    assert table.loc[500, "erm ind 100 % val"] == pytest.approx(0.56)  # (0.5 + 0.52 + 0.6 + 0.62) / 4
    assert table.loc[1000, "erm ind 100 % test (oracle)"] == pytest.approx(0.95)
    assert table.loc[1000, "_n erm ind 100 % val"] == 4 and table.loc[1000, "_seeds erm ind 100 % val"] == 2
    text = curve_markdown(df)
    assert "| 500 | 0.560 | 0.750 |" in text and "| 1000 | 0.760 | 0.950 |" in text
    assert "erm ind 100 % val (n=4, seeds=2)" in text and "test (oracle) (n=2, seeds=2)" in text
    assert curve_markdown(df.iloc[:0]) == ""
