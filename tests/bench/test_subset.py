"""Spec subsets (``subsets:`` + ``--subset``), zero-shot jobs prompted by a trained job (``prompts_from``) and the
benchmark of record (benchmarks/specs/record.yaml) covering every registered trainable method."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from crosspan.bench.executors.schedule import Schedule
from crosspan.bench.jobs import build_plan, job_status
from crosspan.bench.spec import load_spec, parse_spec
from crosspan.bench.subset_apply import apply_subset
from crosspan.core.errors import CrosspanError
from tests.bench.test_spec import SPECS, _parse_real
from tests.bench.test_standin import mark_done


def _arg(args: tuple[str, ...], flag: str) -> str:
    return args[args.index(flag) + 1]


def test_record_smoke_subset_is_a_small_valid_plan() -> None:
    full = load_spec(SPECS / "record.yaml")
    spec = apply_subset(full, "smoke")
    plan = build_plan(spec)
    assert spec.output == full.output.with_name("record-smoke") and spec.name == "record-smoke"
    assert len(plan.method_jobs) <= 12 < len(build_plan(full).method_jobs)
    assert {j.info["seed"] for j in plan.method_jobs} == {0}
    assert {j.info["method"] for j in plan.method_jobs} == {"erm", "gin", "mean-teacher", "physics-rand"}
    assert {j.info["label_ratio"] for j in plan.method_jobs} == {1.0}
    assert {j.info["test_set"] for j in plan.method_jobs} == {"in-distribution", "stress"}
    train = [s.args for j in plan.method_jobs for s in j.steps if s.name == "train"]
    assert len(train) == 4 and {_arg(a, "--steps") for a in train} == {"10"}
    cohorts = [s.args for j in plan.jobs if j.kind == "stage" for s in j.steps if s.name == "synth"]
    assert sorted(_arg(a, "--patients") for a in cohorts) == ["2", "9"]  # training cohort, stress suite
    for job in plan.jobs:  # every command line parses with the real CLI
        for step in job.steps:
            _parse_real(step.args)


@pytest.mark.parametrize(("subset", "message"), [
    ({"methods": ["nope"]}, "unknown name(s) nope"),
    ({"protocols": ["xseq"], "methods": ["physics-rand"]}, "runs on no protocol"),
    ({"label_ratios": [50]}, "keep no label ratio"),
    ({"methods": ["litemedsam"], "protocols": ["ind"]}, "lose every protocol"),
    ({"training": {"steps": 0}}, "training.steps"),
])
def test_bad_subsets_are_one_line_spec_errors(subset: dict, message: str) -> None:
    raw = yaml.safe_load((SPECS / "record.yaml").read_text())
    raw["subsets"] = {"mine": subset}
    with pytest.raises(CrosspanError) as err:
        build_plan(apply_subset(parse_spec(raw, SPECS / "record.yaml"), "mine"))
    assert message in str(err.value) and "Fix:" in str(err.value) and "\n" not in str(err.value)


def test_cli_subset_dry_run_and_unknown_subset(tmp_path: Path) -> None:
    from crosspan.cli.main import app

    res = CliRunner().invoke(app, ["benchmark", "run", str(SPECS / "dg.yaml"), "--subset", "smoke", "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "dg-smoke" in res.output and "0 done" in res.output
    res = CliRunner().invoke(app, ["benchmark", "status", str(SPECS / "dg.yaml"), "--subset", "nightly"])
    defined = ", ".join(sorted(yaml.safe_load((SPECS / "dg.yaml").read_text())["subsets"]))  # published, seed0, ...
    assert res.exit_code != 0 and f"no subset 'nightly' (defined: {defined})" in res.output


def test_prompts_from_runs_after_and_reads_the_trained_job(tmp_path: Path) -> None:
    from crosspan.bench.sweep import _ready

    raw = yaml.safe_load((SPECS / "foundation.yaml").read_text())
    raw["output"] = str(tmp_path / "out")
    plan = build_plan(parse_spec(raw, SPECS / "foundation.yaml"))
    erm = next(j for j in plan.method_jobs if j.info["method"] == "erm")
    boxed = next(j for j in plan.method_jobs if j.info["method"] == "litemedsam-model-box")
    schedule = Schedule([erm, boxed])
    assert schedule.take() == [erm]  # the boxed job waits for the ERM job whose model draws its boxes
    assert schedule.finish({"id": erm.id, "status": "ok"}) == [] and schedule.take() == [boxed]
    predict = boxed.steps[0].args
    assert f"box_model={erm.info['run_dir']}" in predict and "prompt=model-box" in predict
    assert not boxed.info["oracle"] and next(j for j in plan.method_jobs if "oracle-box" in j.id).info["oracle"]
    assert _ready(plan, [boxed]) == ([], [boxed])  # blocked until ERM's job is done
    mark_done(erm)
    assert job_status(erm) == "done" and _ready(plan, [boxed]) == ([boxed], [])
    raw["methods"][3]["prompts_from"] = "litemedsam-oracle-box"
    with pytest.raises(CrosspanError, match="not a trained method of this spec"):
        parse_spec(raw, SPECS / "foundation.yaml")


def test_record_spec_has_every_registered_trainable_method() -> None:
    from crosspan.methods.base import get_method, method_names

    raw = yaml.safe_load((SPECS / "record.yaml").read_text())
    listed = {m["method"] if isinstance(m, dict) else m for m in raw["methods"]}
    trainable = {n for n in method_names() if get_method(n).kind == "trainable"}
    assert trainable - listed == set(), "add the new method to benchmarks/specs/record.yaml"
    assert "litemedsam" in listed


def test_run_dir_moves_every_stage_job_and_command_path(tmp_path: Path) -> None:
    from crosspan.cli.benchmark import _plan

    default = _plan(SPECS / "dg.yaml", subset="smoke")
    plan = _plan(SPECS / "dg.yaml", subset="smoke", run_dir=tmp_path / "mine")
    assert plan.spec.output == tmp_path / "mine-smoke" and len(plan.jobs) == len(default.jobs)
    for job in plan.jobs:
        assert job.path.is_relative_to(tmp_path / "mine-smoke"), job.dir
        assert str(default.spec.output) not in " ".join(a for s in job.steps for a in s.args)
    assert [j.id for j in plan.jobs] == [j.id for j in default.jobs]  # same jobs, so a moved run resumes


def test_cli_status_reads_the_run_dir(tmp_path: Path) -> None:
    from crosspan.cli.benchmark import _plan
    from crosspan.cli.main import app

    first = _plan(SPECS / "dg.yaml", subset="smoke", run_dir=tmp_path / "elsewhere").jobs[0]
    mark_done(first)
    res = CliRunner().invoke(app, ["benchmark", "status", str(SPECS / "dg.yaml"), "--subset", "smoke",
                                   "--run-dir", str(tmp_path / "elsewhere"), "-o", str(tmp_path / "st.csv")])
    assert res.exit_code == 0, res.output
    rows = (tmp_path / "st.csv").read_text().splitlines()
    assert any(r.startswith(f"{first.id},") and ",done," in r for r in rows), rows[:3]


def test_a_stage_finished_for_a_subset_runs_the_steps_the_full_spec_adds(tmp_path: Path) -> None:
    """ssl_paired.yaml's `paired` subset runs no method on `pair-pool`, so that stage (same id in both plans) is
    only split there; the full spec's run must still pair and preprocess it (it once took the subset's `done`)."""
    import dataclasses
    import shutil
    import sys

    from crosspan.bench.runner import run_job

    full = dataclasses.replace(load_spec(SPECS / "ssl_paired.yaml"), output=tmp_path)
    subset_plan = build_plan(apply_subset(full, "paired"))
    subset_stage = next(j for j in subset_plan.jobs if j.id.startswith("protocol-pair-pool"))
    full_stage = next(j for j in build_plan(full).jobs if j.id == subset_stage.id)
    assert [s.name for s in subset_stage.steps] == ["splits"] and len(full_stage.steps) > 1
    exe = (sys.executable, "-c", "import sys")  # every step succeeds and does nothing
    assert run_job(subset_stage, exe)["status"] == "ok"
    shutil.copytree(subset_stage.path, full_stage.path)  # the subset's folders merged into the full spec's
    assert job_status(subset_stage) == "done" and job_status(full_stage) == "incomplete"
    assert run_job(full_stage, exe)["status"] == "ok"
    assert job_status(full_stage) == "done"
    assert {p.name for p in (full_stage.path / "steps").iterdir()} == \
        {f"{s.name}.done" for s in full_stage.steps}
