"""Live progress of a sweep: a bar over jobs plus which jobs run which step (and the training step reached),
read from the job folders, so it works the same for local, Ray and Slurm jobs on a shared filesystem."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from crosspan.bench.jobs import Job
from crosspan.bench.runner import RUNNING


def _last_json_line(path: Path, tail: int = 1024) -> dict | None:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - tail))
            lines = fh.read().decode(errors="replace").strip().splitlines()
        return json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None


def step_progress(job: Job, step: str) -> str:
    """``train 120/300`` from the run folder's ``log.jsonl`` (written by ``crosspan train``), else the step name."""
    if step != "train":
        return step
    args = next((s.args for s in job.steps if s.name == "train"), ())
    if "-o" not in args or "--steps" not in args:
        return step
    last = _last_json_line(Path(args[args.index("-o") + 1]) / "log.jsonl")
    done = last.get("step") if isinstance(last, dict) else None
    return f"train {done}/{args[args.index('--steps') + 1]}" if done is not None else step


class RunningColumn(ProgressColumn):
    """``running erm-xseq-s0-r100: train 120/300, ...``; rescans the job folders at most once a second."""

    def __init__(self, limit: int = 3) -> None:
        super().__init__()
        self.jobs: list[Job] = []
        self.limit = limit
        self._text = ""
        self._at = 0.0

    def watch(self, jobs: Sequence[Job]) -> None:
        self.jobs = list(jobs)
        self._at = 0.0

    def scan(self) -> str:
        items = []
        for job in self.jobs:
            try:
                step = json.loads((job.path / RUNNING).read_text()).get("step", "")
            except (OSError, ValueError):
                continue
            items.append(f"{job.id.rsplit('-', 1)[0]}: {step_progress(job, step)}")
        if not items:
            return ""
        more = f" (+{len(items) - self.limit})" if len(items) > self.limit else ""
        return "running " + ", ".join(items[: self.limit]) + more

    def render(self, task: Task) -> Text:
        now = time.monotonic()
        if now - self._at > 1.0:
            self._text, self._at = self.scan(), now
        return Text(self._text, style="cyan")


def sweep_progress(disable: bool = False) -> tuple[Progress, RunningColumn]:
    running = RunningColumn()
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   running, disable=disable, transient=False)
    return bar, running


__all__ = ["RunningColumn", "step_progress", "sweep_progress"]
