"""When and at which code a benchmark's results were measured: the crosspan commit each ``benchmark run``
records in ``<output>/events.jsonl``, the commit each job's ``done`` marker records (the code its last step ran
with) and the time its jobs finished."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from crosspan.bench.jobs import DONE, Job


@cache
def code_commit() -> str | None:
    """The short git commit of the crosspan source tree (``-dirty`` appended when its tracked files have uncommitted
    changes), or None outside a git checkout (looked up once a process: the code a process runs does not change
    under it)."""
    return commit_of(Path(__file__).resolve().parent)


def commit_of(folder: Path) -> str | None:
    """Short commit of the checkout holding ``folder``, ``-dirty`` when tracked files under it differ from it."""
    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=False,
                                  timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return None
    changes = git("status", "--porcelain", "--untracked-files=no", "--", ".")
    return f"{commit}-dirty" if changes else commit


def run_commits(output: Path) -> list[str]:
    """Commits recorded by the runs of a benchmark output folder (``run-started`` events), oldest first."""
    path = output / "events.jsonl"
    if not path.is_file():
        return []
    commits: list[str] = []
    for line in path.read_text().splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        commit = event.get("commit") if event.get("event") == "run-started" else None
        if commit and commit not in commits:
            commits.append(str(commit))
    return commits


def job_commits(jobs: Iterable[Job]) -> list[str]:
    """Commits recorded in the ``done`` markers of ``jobs`` (first seen first); jobs finished before markers
    carried a commit add none."""
    commits: list[str] = []
    for job in jobs:
        try:
            commit = json.loads((job.path / DONE).read_text()).get("commit")
        except (OSError, ValueError, AttributeError):
            continue
        if commit and commit not in commits:
            commits.append(str(commit))
    return commits


def finished_date(jobs: Iterable[Job]) -> str | None:
    """UTC date (YYYY-MM-DD) the last of ``jobs`` finished (its ``done`` marker), or None."""
    times = [(j.path / DONE).stat().st_mtime for j in jobs if (j.path / DONE).exists()]
    return time.strftime("%Y-%m-%d", time.gmtime(max(times))) if times else None


__all__ = ["code_commit", "commit_of", "finished_date", "job_commits", "run_commits"]
