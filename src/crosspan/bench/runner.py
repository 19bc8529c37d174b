"""Run one job: its steps in order, each skipped when its marker exists, append-only JSONL events, the ``done``
marker written last. Safe to re-run after a crash or ``kill -9`` at any point.

``run_job`` is the unit every executor ships (a thread, a Ray task, a Slurm job): it takes plain data and
returns a plain dict, so it pickles anywhere.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crosspan.bench.jobs import DONE, EVENTS, SKIPPED, Job, is_done, step_marker, zero_shot_skip_reason
from crosspan.bench.provenance import code_commit
from crosspan.core.atomic import write_json

RUNNING = "running.json"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

_STOP = threading.Event()  # set by stop_all(): no new step starts in this process
_LIVE: dict[int, subprocess.Popen] = {}  # running steps of this process, by process group
_LIVE_LOCK = threading.Lock()


def stop_all() -> int:
    """Stop this process's jobs (Ctrl-C on the runner): no new step starts, running steps' process groups are
    killed (their jobs stay incomplete and resume on the next run). Returns how many steps were killed."""
    _STOP.set()
    with _LIVE_LOCK:
        groups = list(_LIVE)
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    return len(groups)


def reset_stop() -> None:
    _STOP.clear()


def stop_requested() -> bool:
    """Whether :func:`stop_all` ran since the last :func:`reset_stop` (a Ctrl-C the runner must not outlive)."""
    return _STOP.is_set()


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"


def append_event(path: Path, event: dict[str, Any]) -> None:
    """Append one JSON line with a single ``write`` on an O_APPEND descriptor (concurrent writers never interleave
    inside a line; a kill leaves at most one cut line, which readers skip)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps({"time": now(), **event}, default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def resolve_executable(executable: Sequence[str]) -> list[str]:
    """``crosspan`` -> this environment's ``crosspan`` script (beside ``sys.executable``), else the one on PATH,
    else ``python -m``-style import of the CLI. Other executables are used as given."""
    exe = list(executable)
    if exe and exe[0] == "crosspan":
        beside = Path(sys.executable).parent / "crosspan"
        if beside.exists():
            return [str(beside), *exe[1:]]
        found = shutil.which("crosspan")
        if found:
            return [found, *exe[1:]]
        return [sys.executable, "-c", "from crosspan.cli.main import app; app()", *exe[1:]]
    return exe


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (guards against a reused pid), or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()[19]


def _running_record(job: Job) -> dict[str, Any] | None:
    try:
        rec = json.loads((job.path / RUNNING).read_text())
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) else None


def _alive_here(rec: dict[str, Any]) -> bool:
    """The recorded step process runs on this host (same pid and kernel start time)."""
    try:
        return bool(rec["host"] == socket.gethostname() and rec["start_time"]
                    and _start_time(int(rec["pid"])) == rec["start_time"])
    except (KeyError, TypeError, ValueError):
        return False


def live_step(job: Job) -> tuple[str, str | None] | None:
    """``(step, None)`` when ``running.json`` names a live process on this host running ``step`` for ``job``;
    ``(step, host)`` when it names another host, whose processes cannot be checked from here; None when no step
    runs (or the recorded process is gone: a killed runner's leftover)."""
    rec = _running_record(job)
    if rec is None:
        return None
    step, host = str(rec.get("step", "?")), str(rec.get("host", "?"))
    if host != socket.gethostname():
        return step, host
    return (step, None) if _alive_here(rec) else None


def _kill_stale(job: Job) -> None:
    """Kill a step left running by a runner that was killed (same host, same process start time)."""
    path = job.path / RUNNING
    if not path.exists():
        return
    with contextlib.suppress(OSError, ValueError, KeyError):
        rec = json.loads(path.read_text())
        if _alive_here(rec):
            os.killpg(rec["pgid"], signal.SIGKILL)
            for _ in range(100):
                if _start_time(rec["pid"]) is None:
                    break
                time.sleep(0.05)
            append_event(job.path / EVENTS, {"event": "killed-stale", "step": rec.get("step"), "pid": rec["pid"]})
    path.unlink(missing_ok=True)


def _env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for var in THREAD_VARS:
        env.setdefault(var, str(threads))
    return env


def run_job(job: Job | dict[str, Any], executable: Sequence[str] = ("crosspan",), threads: int = 1) -> dict[str, Any]:
    """Run ``job``'s unfinished steps; returns ``{id, status: ok|skipped|failed|busy, step, returncode}``.

    ``skipped`` is a finished job, or (with a ``reason``) a zero-shot method that cannot run here: its reason goes
    to ``skipped.json`` and the events instead of a failed predict step, and is checked again on the next run."""
    if isinstance(job, dict):
        job = _job_from_dict(job)
    root = job.path
    result: dict[str, Any] = {"id": job.id, "kind": job.kind, "status": "ok", "step": None, "returncode": 0}
    if is_done(job):
        return {**result, "status": "skipped"}
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "job.json").exists():
        write_json(root / "job.json", job.to_dict())
    lock = open(root / ".lock", "w")  # noqa: SIM115 - held for the whole job
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return {**result, "status": "busy"}
        if is_done(job):
            return {**result, "status": "skipped"}
        _kill_stale(job)
        events = root / EVENTS
        reason = None if step_marker(job, "predict").exists() else zero_shot_skip_reason(job)
        if reason:
            write_json(root / SKIPPED, {"id": job.id, "reason": reason, "time": now()})
            append_event(events, {"event": "skipped", "reason": reason})
            return {**result, "status": "skipped", "reason": reason}
        (root / SKIPPED).unlink(missing_ok=True)
        exe = resolve_executable(executable)
        for step in job.steps:
            if step_marker(job, step).exists():
                continue
            if _STOP.is_set():
                return {**result, "status": "interrupted", "step": step.name, "returncode": None}
            rc, seconds = _run_step(job, step, exe, threads, events)
            if rc != 0:
                status = "interrupted" if _STOP.is_set() else "failed"
                append_event(events, {"event": status, "step": step.name, "returncode": rc,
                                      "seconds": round(seconds, 3)})
                return {**result, "status": status, "step": step.name, "returncode": rc}
            write_json(step_marker(job, step), {"returncode": 0, "seconds": round(seconds, 3), "finished": now()})
            append_event(events, {"event": "finished", "step": step.name, "returncode": 0,
                                  "seconds": round(seconds, 3)})
        write_json(root / DONE, {"id": job.id, "finished": now(), "host": socket.gethostname(),
                                 "commit": code_commit()})
        append_event(events, {"event": "done"})
        return result
    finally:
        lock.close()


def _run_step(job: Job, step: Any, exe: list[str], threads: int, events: Path) -> tuple[int, float]:
    argv = [*exe, *step.args]
    log_path = job.path / "logs" / f"{step.name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    append_event(events, {"event": "started", "step": step.name, "argv": argv, "host": socket.gethostname(),
                          "runner_pid": os.getpid()})
    t0 = time.monotonic()
    with open(log_path, "ab") as log:
        log.write(f"\n=== {now()} {' '.join(argv)}\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, env=_env(threads), cwd=job.path)
        except OSError as err:
            log.write(f"cannot start: {err}\n".encode())
            return 127, time.monotonic() - t0
        with _LIVE_LOCK:
            _LIVE[proc.pid] = proc
        write_json(job.path / RUNNING, {"pid": proc.pid, "pgid": proc.pid, "host": socket.gethostname(),
                                        "start_time": _start_time(proc.pid), "step": step.name})
        try:
            rc = proc.wait()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            raise
        finally:
            with _LIVE_LOCK:
                _LIVE.pop(proc.pid, None)
            (job.path / RUNNING).unlink(missing_ok=True)
    return rc, time.monotonic() - t0


def _job_from_dict(d: dict[str, Any]) -> Job:
    from crosspan.bench.jobs import Step

    steps = tuple(Step(s["name"], tuple(s["args"])) for s in d["steps"])
    return Job(id=d["id"], kind=d["kind"], dir=d["dir"], steps=steps, info=d.get("info", {}), args=d.get("args", {}))


__all__ = ["append_event", "reset_stop", "resolve_executable", "run_job", "stop_all", "stop_requested"]
