"""The same sweep on the local executor (failures, re-run, locks), on a local Ray instance (GPU requests reach the
job) and through submitit (its local executor, and the sbatch script it would submit to Slurm)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from crosspan.bench.jobs import build_plan, job_status
from crosspan.bench.spec import Executor, load_spec
from crosspan.bench.sweep import run_plan, runner_lock
from crosspan.cli.main import app
from crosspan.core.errors import CrosspanError
from tests.bench.test_standin import write_spec

runner = CliRunner()


def test_dry_run_runs_nothing_then_failures_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec_path = write_spec(tmp_path, seeds=2, steps=2)
    ledger = tmp_path / "ledger.txt"
    monkeypatch.setenv("STANDIN_LEDGER", str(ledger))
    res = runner.invoke(app, ["benchmark", "run", str(spec_path), "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "0 done, 0 incomplete, 6 pending" in res.output and not ledger.exists()  # zs: one job, no seed

    monkeypatch.setenv("STANDIN_FAIL", "--method zs")  # every evaluate of the zero-shot method fails
    res = runner.invoke(app, ["benchmark", "run", str(spec_path)])
    assert res.exit_code == 1
    plan = build_plan(load_spec(spec_path))
    states = {j.info["method"] + str(j.info["seed"]): job_status(j) for j in plan.method_jobs}
    assert states == {"erm0": "done", "erm1": "done", "zs0": "incomplete"}
    res = runner.invoke(app, ["benchmark", "status", str(spec_path), "-o", str(tmp_path / "status.csv")])
    assert res.exit_code == 0
    status = pd.read_csv(tmp_path / "status.csv")
    assert status["status"].value_counts().to_dict() == {"done": 5, "incomplete": 1}
    assert set(status.loc[status["status"] == "incomplete", "note"]) == {"evaluate (failed, exit 3)"}

    monkeypatch.delenv("STANDIN_FAIL")
    before = len(ledger.read_text().splitlines())
    res = runner.invoke(app, ["benchmark", "run", str(spec_path)])
    assert res.exit_code == 0, res.output
    rerun = [ln.split(" ")[1] for ln in ledger.read_text().splitlines()[before:]]
    assert sorted(rerun) == ["evaluate", "report"]  # only the failed steps, then the report
    table = pd.read_csv(plan.spec.output / "results.csv")
    assert len(table) == 3 * 3 and set(table["method"]) == {"erm", "zs"}


def test_failed_stage_stops_with_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec_path = write_spec(tmp_path, seeds=1)
    monkeypatch.setenv("STANDIN_FAIL", "data catalog")
    res = runner.invoke(app, ["benchmark", "run", str(spec_path)])
    assert res.exit_code == 2
    assert "shared stage catalog-" in res.output and "logs" in res.output
    plan = build_plan(load_spec(spec_path))
    assert all(job_status(j) == "pending" for j in plan.method_jobs)


def test_one_runner_per_output_folder(tmp_path: Path) -> None:
    with runner_lock(tmp_path), pytest.raises(CrosspanError, match="another `crosspan benchmark run`"), \
            runner_lock(tmp_path):
        pass


def test_local_executor_sets_threads_per_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec_path = write_spec(tmp_path, seeds=1, executor={"kind": "local", "threads_per_job": 3})
    envlog = tmp_path / "env.txt"
    monkeypatch.setenv("STANDIN_ENVLOG", str(envlog))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    spec = load_spec(spec_path)
    assert spec.executor.workers() == max(1, len(os.sched_getaffinity(0)) // 3)
    run_plan(build_plan(spec), progress=False)
    assert {ln.split("\t")[2] for ln in envlog.read_text().splitlines()} == {"3"}


def test_ray_executor_on_a_local_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ray = pytest.importorskip("ray")
    spec_path = write_spec(tmp_path, seeds=1, executor={"kind": "ray", "gpus_per_job": 1})
    envlog = tmp_path / "env.txt"
    monkeypatch.setenv("STANDIN_ENVLOG", str(envlog))
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)  # one (declared) GPU
    try:
        plan = build_plan(load_spec(spec_path))
        tally = run_plan(plan, progress=False)
        from crosspan.bench.executors.ray import RayExecutor

        bad = RayExecutor(dataclasses.replace(plan.spec.executor, extra={"bogus": 1}))
        with pytest.raises(CrosspanError, match="Ray rejects the executor options"):
            next(bad.run(plan.method_jobs, plan.spec.executable))
    finally:
        ray.shutdown()
    assert tally["ok"] == len(plan.jobs) and all(job_status(j) == "done" for j in plan.jobs)
    # Each task asked for one GPU, so Ray handed GPU 0 to every job's commands.
    assert {ln.split("\t")[1] for ln in envlog.read_text().splitlines()} == {"0"}


def test_submitit_local_executor(tmp_path: Path) -> None:
    pytest.importorskip("submitit")
    spec_path = write_spec(tmp_path, seeds=1, executor={"kind": "slurm", "cluster": "local", "time": 5, "jobs": 2})
    plan = build_plan(load_spec(spec_path))
    tally = run_plan(plan, progress=False)
    assert tally["ok"] == len(plan.jobs) and all(job_status(j) == "done" for j in plan.jobs)
    submitted = (plan.spec.output / "jobs" / "submitted.jsonl").read_text().splitlines()
    assert len(submitted) == len(plan.method_jobs)
    assert list((plan.spec.output / "slurm").glob("*/*_result.pkl"))  # submitit ran them as separate jobs
    again = run_plan(plan, progress=False)
    assert again["skipped"] == len(plan.jobs) and again["ok"] == 0


def test_slurm_submission_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("submitit")
    from crosspan.bench.executors.slurm import SlurmExecutor

    spec = Executor(kind="slurm", partition="gpu", time=90, gpus_per_job=1, cpus_per_job=8, cluster="slurm",
                    extra={"slurm_account": "lab"})
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(CrosspanError, match="cannot submit to Slurm from here"):
        SlurmExecutor(spec, tmp_path).executor()
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "srun").write_text("#!/bin/sh\nexit 0\n")
    (fake / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", str(fake))
    script = SlurmExecutor(spec, tmp_path).executor()._executor._make_submission_file_text("python -m x", "1")
    for line in ("--partition=gpu", "--time=90", "--gpus-per-node=1", "--cpus-per-task=8", "--account=lab"):
        assert f"#SBATCH {line}" in script
    with pytest.raises(CrosspanError, match="submitit rejects"):
        SlurmExecutor(dataclasses.replace(spec, extra={"bogus": 1}), tmp_path).executor()


def test_progress_shows_running_steps_and_training_step(tmp_path: Path) -> None:
    from crosspan.bench.progress import RunningColumn

    plan = build_plan(load_spec(write_spec(tmp_path, seeds=1, steps=300)))
    erm = next(j for j in plan.method_jobs if j.info["method"] == "erm")
    zs = next(j for j in plan.method_jobs if j.info["method"] == "zs")
    (erm.path / "run").mkdir(parents=True)
    (erm.path / "run" / "log.jsonl").write_text('{"step": 1}\n{"step": 120, "loss": 0.5}\n')
    (erm.path / "running.json").write_text('{"step": "train"}')
    zs.path.mkdir(parents=True)
    (zs.path / "running.json").write_text('{"step": "predict"}')
    column = RunningColumn()
    column.watch(plan.method_jobs)
    text = column.scan()
    assert text == (f"running {erm.id.rsplit('-', 1)[0]}: train 120/300, {zs.id.rsplit('-', 1)[0]}: predict")
