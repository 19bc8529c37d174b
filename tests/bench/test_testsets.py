"""Benchmark spec ``test_datasets``: every trained model scores each extra test dataset (the stress suite), rows
tagged ``test_set``; a spec that would train on a test dataset is refused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from crosspan.bench.collect import collect_results, summary
from crosspan.bench.jobs import build_plan
from crosspan.bench.spec import load_spec, parse_spec
from crosspan.bench.sweep import run_plan
from crosspan.core.errors import CrosspanError
from tests.bench.test_standin import write_spec

STRESS = {"name": "stress", "synthetic": {"profile": "stress", "patients": 12, "seed": 100, "shape": "default"}}


def _spec(tmp_path: Path, **extra: object):  # noqa: ANN202
    return load_spec(write_spec(tmp_path, seeds=2, steps=1, **extra))


def test_every_model_job_scores_each_test_set_and_keeps_its_id(tmp_path: Path) -> None:
    before = build_plan(_spec(tmp_path))
    plan = build_plan(_spec(tmp_path, test_datasets=[STRESS]))
    trained = [j for j in plan.method_jobs if j.info["test_set"] == "in-distribution"]
    tests = [j for j in plan.method_jobs if j.info["test_set"] == "stress"]
    assert [j.id for j in trained] == [j.id for j in before.method_jobs]  # adding a test set retrains nothing
    assert len(tests) == len(trained) == 3 and {t.info["model_job"] for t in tests} == {j.id for j in trained}
    stage = next(j for j in plan.jobs if j.info.get("stage") == "test-set")
    synth = list(stage.steps[0].args)
    assert synth[synth.index("--profile") + 1] == "stress" and "--centers" not in synth  # the profile's S1-S4
    assert synth[synth.index("--seed") + 1] == "100"
    assert plan.waves.index(next(w for w in plan.waves if tests[0] in w)) == len(plan.waves) - 1  # after training
    erm = next(t for t in tests if t.info["method"] == "erm")
    model = next(j for j in trained if j.id == erm.info["model_job"])
    predict, evaluate = (list(s.args) for s in erm.steps)
    assert predict[:2] == ["predict", str(model.path / "run")] and predict[predict.index("--cases") + 1] == "all"
    assert evaluate[evaluate.index("--run") + 1] == model.id and evaluate[evaluate.index("--cases") + 1] == "all"
    assert evaluate[evaluate.index("--splits") + 1] == model.info["splits"]  # its training domains
    zs = next(t for t in tests if t.info["method"] == "zs")
    assert list(zs.steps[0].args)[:3] == ["predict", "--method", "medsam"]


def test_targets_restrict_the_catalog_and_a_path_test_set(tmp_path: Path) -> None:
    other = tmp_path / "external"
    other.mkdir()
    plan = build_plan(_spec(tmp_path, test_datasets=[{"name": "ext", "path": str(other), "targets": ["*:T2"]}]))
    stage = next(j for j in plan.jobs if j.info.get("stage") == "test-set")
    (catalog,) = (list(s.args) for s in stage.steps)
    assert catalog[:3] == ["data", "catalog", str(other)] and catalog[catalog.index("--domains") + 1] == "*:T2"


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r.update(test_datasets=[{**STRESS, "synthetic": {"patients": 3, "seed": 0}}]),
     "same profile and seed (0) as the training cohort"),
    (lambda r: r.update(test_datasets=[{"name": "in-distribution", **{"synthetic": STRESS["synthetic"]}}]),
     "names the dataset's own test split"),
    (lambda r: r.update(test_datasets=[STRESS, STRESS]), "duplicate name(s) stress"),
    (lambda r: r["dataset"]["synthetic"].update(profile="stress"), "would train on the stress suite"),
    (lambda r: r.update(test_datasets=[{**STRESS, "synthetic": {"profile": "extreme"}}]), "unknown profile"),
    (lambda r: r.update(test_datasets=[{"name": "x"}]), "exactly one of `path` or `synthetic`"),
])
def test_a_test_set_that_would_be_trained_on_is_refused(tmp_path: Path, change, message: str) -> None:
    raw = yaml.safe_load(write_spec(tmp_path).read_text())
    change(raw)
    with pytest.raises(CrosspanError) as err:
        parse_spec(raw, tmp_path / "spec.yaml")
    assert message in str(err.value) and "Fix:" in str(err.value)


def test_a_stress_training_cohort_needs_its_opt_in_and_is_not_hashed_by_it(tmp_path: Path) -> None:
    raw = yaml.safe_load(write_spec(tmp_path).read_text())
    raw["dataset"]["synthetic"].update(profile="stress", seed=200, train_on_stress=True)
    plan = build_plan(parse_spec(raw, tmp_path / "spec.yaml"))
    cohort = plan.waves[0][0]
    assert "train_on_stress" not in cohort.args["synthetic"] and "--profile" in cohort.steps[0].args
    raw["test_datasets"] = [{**STRESS, "synthetic": {"profile": "stress", "seed": 200}}]  # the opt-in is not a pass
    with pytest.raises(CrosspanError, match="same profile and seed"):
        parse_spec(raw, tmp_path / "spec.yaml")


def test_the_training_dataset_path_is_no_test_set(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    raw = yaml.safe_load(write_spec(tmp_path).read_text())
    raw.update(dataset={"path": str(data)}, test_datasets=[{"name": "same", "path": str(data)}])
    with pytest.raises(CrosspanError, match="is the training dataset itself"):
        parse_spec(raw, tmp_path / "spec.yaml")


def test_collect_keeps_both_test_sets_of_the_same_case_ids(tmp_path: Path) -> None:
    plan = build_plan(_spec(tmp_path, test_datasets=[STRESS]))
    run_plan(plan, progress=False)
    table, missing, _ = collect_results(plan)
    assert missing == []
    # the stand-in scores the same three case ids in both sets: without test_set in the key half would be dropped
    assert len(table) == len(plan.method_jobs) * 3
    assert table.groupby("test_set").size().to_dict() == {"in-distribution": 9, "stress": 9}  # erm x 2, zs x 1
    means = summary(table, ("dice",))
    assert set(means["test_set"]) == {"in-distribution", "stress"}


def test_a_test_set_job_waits_for_its_model_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = build_plan(_spec(tmp_path, test_datasets=[STRESS]))
    monkeypatch.setenv("STANDIN_FAIL", "--method erm --network")  # no model is trained
    monkeypatch.setenv("STANDIN_LEDGER", str(tmp_path / "ledger.txt"))
    tally = run_plan(plan, progress=False)
    assert tally["failed"] == 2 and tally["blocked"] == 2  # erm's 2 seeds; the zero-shot test jobs still run
    stress = [j for j in plan.method_jobs if j.info["test_set"] == "stress"]
    assert {j.info["method"] for j in stress if (j.path / "done").exists()} == {"zs"}
    assert not any("erm" in line and "predict" in line for line in (tmp_path / "ledger.txt").read_text().splitlines())


def test_a_test_set_job_runs_as_soon_as_its_model_job_is_done(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A run stopped midway has each finished method's stress rows, not only its in-distribution ones."""
    plan = build_plan(_spec(tmp_path, test_datasets=[STRESS], executor={"kind": "local", "jobs": 1}))
    ledger = tmp_path / "ledger.txt"
    monkeypatch.setenv("STANDIN_LEDGER", str(ledger))
    run_plan(plan, progress=False)
    order: list[str] = []  # the jobs in the order their first command ran
    for line in ledger.read_text().splitlines():
        job = next((j for j in plan.method_jobs if line.split(" ")[2].startswith(j.dir + "/")), None)
        if job is not None and job.id not in order:
            order.append(job.id)
    by_id = {j.id: j for j in plan.method_jobs}
    assert len(order) == len(by_id) == 6  # erm x 2 seeds, zs; each with its stress job
    for i, jid in enumerate(order):
        if by_id[jid].info["test_set"] == "stress":
            assert order[i - 1] == by_id[jid].info["model_job"]  # straight after its model, before the next one


def test_collect_writes_one_report_a_test_set(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from crosspan.cli.main import app

    spec = write_spec(tmp_path, seeds=1, steps=1, test_datasets=[STRESS])
    res = CliRunner().invoke(app, ["benchmark", "run", str(spec)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "out"
    main, stress = (out / "report.html").read_text(), (out / "report-stress.html").read_text()
    assert "results.in-distribution.csv" in main and "results.stress.csv" in stress  # never pooled
    assert set(pd.read_csv(out / "results.stress.csv")["test_set"]) == {"stress"}
    assert set(pd.read_csv(out / "results.csv")["test_set"]) == {"in-distribution", "stress"}
