"""Run a plan wave by wave on an executor, skipping finished jobs; one runner per output folder at a time."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from crosspan.bench.datasets import IN_DISTRIBUTION
from crosspan.bench.executors import JobExecutor, make_executor
from crosspan.bench.executors.schedule import dependency
from crosspan.bench.jobs import EVENTS, Job, JobPlan, job_status, last_failure, seeded, skip_note, steps_done
from crosspan.bench.progress import step_progress, sweep_progress
from crosspan.bench.provenance import code_commit
from crosspan.bench.runner import append_event, live_step, stop_all, stop_requested
from crosspan.core.atomic import write_text
from crosspan.core.errors import CrosspanError

ORDER = {"done": 0, "skipped": 1, "running": 2, "incomplete": 3, "pending": 4}


@contextlib.contextmanager
def runner_lock(output: Path) -> Iterator[None]:
    """An exclusive lock on ``output/.runner.lock`` (released by the kernel even on ``kill -9``)."""
    output.mkdir(parents=True, exist_ok=True)
    fh = open(output / ".runner.lock", "w")  # noqa: SIM115
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CrosspanError(output, "another `crosspan benchmark run` is using this output folder",
                                "wait for it to finish, or stop that process first") from None
        fh.write(str(os.getpid()))
        fh.flush()
        yield
    finally:
        fh.close()


def status_rows(plan: JobPlan) -> list[dict[str, Any]]:
    """One row per stage and job, done first, then skipped (note: why), running (note: the step, and the training
    step reached), incomplete (note: the failed step), pending."""
    rows = []
    for job in plan.jobs:
        st = job_status(job)
        live = live_step(job) if st in ("incomplete", "pending") else None
        if live is not None:
            st = "running"
        info = job.info
        rows.append({"id": job.id, "kind": job.kind, "status": st, "steps": f"{steps_done(job)}/{len(job.steps)}",
                     "method": info.get("method", ""), "protocol": info.get("protocol", ""),
                     "split": info.get("split", ""), "seed": info.get("seed", ""),
                     "label_ratio": info.get("label_ratio", ""),
                     "note": _note(job, st) if live is None else _running_note(job, *live)})
    return sorted(rows, key=lambda r: (ORDER[r["status"]], r["kind"] != "stage"))


def plan_counts(plan: JobPlan) -> str:
    """``504 stages and jobs: 8 stages, 248 model jobs (246 trained, 2 zero-shot: one seed each, ...), 248 test-set
    jobs``: what ``benchmark run --dry-run`` says the spec costs."""
    model = [j for j in plan.method_jobs if j.info.get("test_set") == IN_DISTRIBUTION]  # not a test set's job
    trained = sum(any(s.name == "train" for s in j.steps) for j in model)
    once = {m.name for m in plan.spec.methods if not seeded(m)}
    zero, single = len(model) - trained, sum(j.info["method"] in once for j in model)
    note = f", {zero} zero-shot" if zero else ""
    if single and len(plan.spec.seeds) > 1:  # zero-shot jobs prompted by a trained model keep every seed
        note += ((": " if single == zero else f", {single} of them ")
                 + "one seed each, as the seed changes nothing they predict")
    stages = len(plan.jobs) - len(plan.method_jobs)
    return (f"{len(plan.jobs)} stages and jobs: {stages} stages, {len(model)} model jobs ({trained} trained{note}), "
            f"{len(plan.method_jobs) - len(model)} test-set jobs")


def _running_note(job: Job, step: str, host: str | None) -> str:
    """``train 120/300``, or ``train 120/300 (on node7, not checked)`` for a step another host runs."""
    return step_progress(job, step) + (f" (on {host}, not checked)" if host else "")


def _note(job: Job, status: str) -> str:
    if status == "skipped":
        return f"skipped: {skip_note(job) or 'cannot run here'}"
    return (last_failure(job) or "") if status != "done" else ""


def status_table(plan: JobPlan) -> Table:
    rows = status_rows(plan)
    counts = Counter(r["status"] for r in rows)
    skipped = f"{counts['skipped']} skipped, " if counts["skipped"] else ""
    running = f"{counts['running']} running, " if counts["running"] else ""
    table = Table(title=f"{plan.spec.name}: {counts['done']} done, {skipped}{running}"
                        f"{counts['incomplete']} incomplete, {counts['pending']} pending ({plan.spec.output})",
                  title_justify="left")
    colors = {"done": "green", "skipped": "magenta", "running": "cyan", "incomplete": "yellow", "pending": "dim"}
    table.add_column("status")
    table.add_column("job (method-protocol-[split-]seed-labels-hash)", overflow="fold")
    table.add_column("steps")
    table.add_column("note")
    for r in rows:
        table.add_row(f"[{colors[r['status']]}]{r['status']}[/]", r["id"], r["steps"], r["note"])
    return table


def run_plan(plan: JobPlan, executor: JobExecutor | None = None, console: Console | None = None,
             progress: bool = True) -> Counter:
    """Run every unfinished stage and job; returns counts of results (ok, skipped, failed, busy).

    Raises :class:`CrosspanError` when a shared stage fails (nothing after it can run)."""
    spec = plan.spec
    executor = executor or make_executor(spec.executor, spec.output)
    tally: Counter = Counter()
    with runner_lock(spec.output):
        write_text(spec.output / "spec.yaml", spec.path.read_text())
        events = spec.output / EVENTS
        append_event(events, {"event": "run-started", "pid": os.getpid(), "executor": spec.executor.kind,
                              "commit": code_commit(), "jobs": len(plan.jobs)})
        todo_total = sum(job_status(j) != "done" for j in plan.jobs)
        tally["skipped"] = len(plan.jobs) - todo_total
        try:
            with _ctrl_c_stops_jobs():
                _run_waves(plan, executor, console, progress, tally, events)
        except KeyboardInterrupt:
            append_event(events, {"event": "run-interrupted", **dict(tally)})
            raise
        append_event(events, {"event": "run-finished", **dict(tally)})
    return tally


@contextlib.contextmanager
def _ctrl_c_stops_jobs() -> Iterator[None]:
    """SIGINT kills the running steps and stops new ones *before* ``KeyboardInterrupt`` is raised: an interrupt that
    lands inside a finalizer (where Python ignores exceptions) still stops the run, which then ends interrupted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum: int, frame: Any) -> None:
        stop_all()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_waves(plan: JobPlan, executor: JobExecutor, console: Console | None, progress: bool, tally: Counter,
               events: Path) -> None:
    """Each wave after the previous one; a failed shared stage stops the run."""
    spec = plan.spec
    bar, running = sweep_progress(disable=not progress)
    with bar:
        task = bar.add_task(f"benchmark {spec.name}", total=sum(job_status(j) != "done" for j in plan.jobs))
        for wave in plan.waves:
            if stop_requested():  # a swallowed Ctrl-C: the next wave's executor would clear the stop flag
                raise KeyboardInterrupt
            todo = [j for j in wave if job_status(j) != "done"]
            todo, blocked = _ready(plan, todo)
            for job in blocked:  # a test-set job whose model job did not finish: nothing to predict with
                tally["blocked"] += 1
                bar.advance(task)
                if console is not None:
                    console.print(f"[yellow]blocked:[/] {job.id}: its model job {job.info['model_job']} did not "
                                  "finish; it runs once that job is done")
            running.watch(todo)
            by_id = {j.id: j for j in todo}
            stage_failure = None
            for result in executor.run(todo, spec.executable):
                tally[result["status"]] += 1
                append_event(events, {"event": "job", **result})
                bar.advance(task)
                if result["status"] == "blocked":
                    if console is not None:
                        console.print(f"[yellow]blocked:[/] {result['id']}: the job it needs, "
                                      f"{result['blocked_by']}, did not finish; it runs once that job is done")
                    continue
                if result.get("reason") and console is not None:
                    console.print(f"[magenta]skipped:[/] {result['id']}: {result['reason']}")
                if result["status"] in ("failed", "busy", "interrupted"):
                    job = by_id[result["id"]]
                    if console is not None:
                        console.print(_failure_line(job, result))
                    if job.kind == "stage" and stage_failure is None:
                        stage_failure = (job, result)
            if stop_requested():
                raise KeyboardInterrupt
            if stage_failure:
                job, res = stage_failure
                append_event(events, {"event": "run-stopped", "stage": job.id})
                raise CrosspanError(job.path, f"shared stage {job.id} did not finish ({res['status']}"
                                    f"{' at ' + str(res['step']) if res['step'] else ''})",
                                    f"read {job.path / 'logs'}/*.log, fix the cause, and run again")


def _ready(plan: JobPlan, todo: list[Job]) -> tuple[list[Job], list[Job]]:
    """Split ``todo`` into jobs the executor can run (each waits there for a model job among ``todo``) and jobs
    whose model job is neither among ``todo`` nor done nor skipped (nothing in this run will finish it)."""
    waiting = {j.id for j in todo}
    needed = {dependency(j) for j in todo} - waiting - {None}
    status = {j.id: job_status(j) for j in plan.method_jobs if j.id in needed}
    blocked = [j for j in todo if dependency(j) in needed and status.get(str(dependency(j))) not in
               ("done", "skipped")]
    return [j for j in todo if j not in blocked], blocked


def _failure_line(job: Job, result: dict[str, Any]) -> str:
    if result["status"] == "busy":
        return f"[yellow]busy:[/] {job.id} is being run by another process; skipped"
    if result["status"] == "interrupted":
        return f"[yellow]interrupted:[/] {job.id} at {result['step']}; it resumes on the next run"
    return (f"[red]failed:[/] {job.id} at {result['step']} (exit {result['returncode']}); "
            f"log: {job.path / 'logs' / (str(result['step']) + '.log')}")


__all__ = ["run_plan", "runner_lock", "status_rows", "status_table"]
