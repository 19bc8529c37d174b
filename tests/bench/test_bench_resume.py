"""`kill -9` of the benchmark runner midway, then the same command again: the sweep completes, finished jobs are
not run again, training resumes from its checkpoint, and the collected table has every row exactly once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from crosspan.bench.jobs import build_plan, job_status, read_events
from crosspan.bench.spec import load_spec
from tests.bench.test_standin import write_spec

CLI = [sys.executable, "-c", "from crosspan.cli.main import app; app()"]


def _ledger(path: Path, phase: str) -> list[tuple[str, str]]:
    lines = [ln.split(" ", 2) for ln in path.read_text().splitlines()] if path.exists() else []
    return [(cmd, out) for ph, cmd, out in lines if ph == phase]


def test_kill_runner_midway_then_resume(tmp_path: Path) -> None:
    spec_path = write_spec(tmp_path, seeds=3, steps=6, executor={"kind": "local", "jobs": 2})
    plan = build_plan(load_spec(spec_path))
    jobs = plan.method_jobs
    assert len(jobs) == 4  # erm x 3 seeds + the zero-shot method once
    ledger = tmp_path / "ledger.txt"
    env = {**os.environ, "STANDIN_LEDGER": str(ledger), "STANDIN_SLEEP": "0.15", "STANDIN_PHASE": "first"}
    proc = subprocess.Popen([*CLI, "benchmark", "run", str(spec_path)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    def midway() -> bool:  # two jobs finished, another one started
        states = [job_status(j) for j in jobs]
        return states.count("done") >= 2 and "incomplete" in states

    while not midway():
        assert proc.poll() is None, "the runner ended before it could be killed"
        assert time.monotonic() < deadline, "no job finished within 60 s"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    status = {j.id: job_status(j) for j in jobs}
    done_before = {j.id for j in jobs if status[j.id] == "done"}
    assert 2 <= len(done_before) < len(jobs), status
    assert "incomplete" in status.values()
    rows_before = {j.id: (j.path / "results.csv").read_text() for j in jobs if j.id in done_before}

    env["STANDIN_PHASE"] = "second"
    rerun = subprocess.run([*CLI, "benchmark", "run", str(spec_path)], env=env, capture_output=True, text=True,
                           timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert all(job_status(j) == "done" for j in plan.jobs)

    # Finished jobs were not touched again: no command of theirs ran in the second run, their tables are intact.
    second = _ledger(ledger, "second")
    finished_dirs = [str(j.path) for j in jobs if j.id in done_before]
    assert not [out for _, out in second if any(out.startswith(d) for d in finished_dirs)]
    assert {j.id: (j.path / "results.csv").read_text() for j in jobs if j.id in done_before} == rows_before
    assert not [c for c, _ in second if c in ("synth cohort", "data catalog", "data splits", "preprocess")]

    # Interrupted training resumed from its checkpoint: every step logged, none lost.
    for job in jobs:
        if job.info["method"] == "erm":
            logged = [int(s) for s in (job.path / "run" / "train.log").read_text().split()]
            assert sorted(set(logged)) == list(range(1, 7)), (job.id, logged)
            assert len(logged) - len(set(logged)) <= 1  # at most the step cut by the kill is repeated

    # Collected: every job x case exactly once; collecting twice changes nothing.
    table = pd.read_csv(plan.spec.output / "results.csv")
    assert len(table) == len(jobs) * 3
    assert not table.duplicated(subset=["case_id", "method", "run", "seed", "split", "label_ratio"]).any()
    assert set(table["job"]) == {j.id for j in jobs}
    again = subprocess.run([*CLI, "benchmark", "collect", str(spec_path), "--no-report"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    pd.testing.assert_frame_equal(pd.read_csv(plan.spec.output / "results.csv"), table)
    assert (plan.spec.output / "report.html").exists()

    # The runner's log records both runs; job logs record the restart of the interrupted steps.
    runs = [e for e in (json.loads(x) for x in (plan.spec.output / "events.jsonl").read_text().splitlines())
            if e["event"] == "run-started"]
    assert len(runs) == 2
    restarted = [j for j in jobs if j.id not in done_before
                 and sum(e["event"] == "started" for e in read_events(j)) > len(j.steps)]
    assert restarted, "no interrupted job restarted a step"


def test_ctrl_c_stops_running_steps_and_resumes(tmp_path: Path) -> None:
    """SIGINT (Ctrl-C) to the runner kills the steps it started, starts nothing new, and the next run resumes."""
    spec_path = write_spec(tmp_path, seeds=2, steps=40, executor={"kind": "local", "jobs": 2})
    plan = build_plan(load_spec(spec_path))
    env = {**os.environ, "STANDIN_SLEEP": "0.1", "STANDIN_LEDGER": str(tmp_path / "ledger.txt"),
           "STANDIN_PHASE": "first"}
    proc = subprocess.Popen([*CLI, "benchmark", "run", str(spec_path)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    erm = [j for j in plan.method_jobs if j.info["method"] == "erm"]
    deadline = time.monotonic() + 60
    while not any((j.path / "run" / "checkpoint.json").exists() for j in erm):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    running = [json.loads((j.path / "running.json").read_text()) for j in erm if (j.path / "running.json").exists()]
    assert running
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)
    assert proc.returncode != 0
    for rec in running:  # the training processes are gone, not orphaned
        assert not Path(f"/proc/{rec['pid']}").exists() or "zombie" in Path(f"/proc/{rec['pid']}/status").read_text()
    assert not any(job_status(j) == "done" for j in plan.method_jobs)
    stopped = [e["event"] for j in erm for e in read_events(j)]
    assert "interrupted" in stopped
    events = [json.loads(x)["event"] for x in (plan.spec.output / "events.jsonl").read_text().splitlines()]
    assert events[-1] == "run-interrupted"

    env.update(STANDIN_SLEEP="0", STANDIN_PHASE="second")
    rerun = subprocess.run([*CLI, "benchmark", "run", str(spec_path), "--no-collect"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert all(job_status(j) == "done" for j in plan.jobs)
    for job in erm:
        logged = [int(s) for s in (job.path / "run" / "train.log").read_text().split()]
        assert sorted(set(logged)) == list(range(1, 41))


def test_status_tells_a_running_step_from_a_killed_runners_leftover(tmp_path: Path) -> None:
    """`benchmark status` says ``running`` only while the process ``running.json`` names is alive on this host;
    a leftover of a killed runner (pid gone) is ``incomplete``; another host's step is named, not checked."""
    from crosspan.bench.runner import RUNNING, _start_time
    from crosspan.bench.sweep import status_rows

    plan = build_plan(load_spec(write_spec(tmp_path, seeds=1)))
    job = next(j for j in plan.method_jobs if j.info["method"] == "erm")
    job.path.mkdir(parents=True)
    (job.path / "events.jsonl").write_text("")
    step = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        record = {"pid": step.pid, "pgid": step.pid, "host": socket.gethostname(),
                  "start_time": _start_time(step.pid), "step": "train"}
        (job.path / RUNNING).write_text(json.dumps(record))
        row = {r["id"]: r for r in status_rows(plan)}[job.id]
        assert (row["status"], row["note"]) == ("running", "train")
    finally:
        step.kill()
        step.wait()
    assert {r["id"]: r for r in status_rows(plan)}[job.id]["status"] == "incomplete"  # pid gone: a leftover
    (job.path / RUNNING).write_text(json.dumps({**record, "host": "node-elsewhere"}))
    row = {r["id"]: r for r in status_rows(plan)}[job.id]
    assert (row["status"], row["note"]) == ("running", "train (on node-elsewhere, not checked)")
