"""Which job an executor starts next: a job that depends on another (``info['model_job']``: a test-set job on the
model it scores, a zero-shot job on the trained model that draws its boxes) waits until that job has finished,
and starts before any job that does not, so each method's results are complete as soon as its model is. A job
whose dependency failed never starts: it comes back as ``blocked`` and runs on the next ``benchmark run``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crosspan.bench.jobs import Job

SATISFIED = ("ok", "skipped")  # a dependency that finished so (a skipped zero-shot job's dependents skip too)


def dependency(job: Job) -> str | None:
    """The id of the job ``job`` waits for, or None."""
    dep = job.info.get("model_job")
    return str(dep) if dep else None


class Schedule:
    """The jobs of one executor call not yet started. A dependency outside them is taken as finished (the sweep
    passes every unfinished job of a plan, and holds back those whose dependency is neither done nor among them)."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        self.waiting = list(jobs)
        self.unfinished = {j.id for j in jobs}

    def __bool__(self) -> bool:
        return bool(self.waiting)

    def _ready(self, job: Job) -> bool:
        dep = dependency(job)
        return dep is None or dep not in self.unfinished

    def take(self, limit: int | None = None) -> list[Job]:
        """Up to ``limit`` (None: all) jobs that can start now, dependents first, otherwise in the given order."""
        ready = [j for j in self.waiting if self._ready(j)]
        ready.sort(key=lambda j: dependency(j) is None)  # stable: dependents first, each group in order
        taken = ready if limit is None else ready[:max(0, limit)]
        chosen = {j.id for j in taken}
        self.waiting = [j for j in self.waiting if j.id not in chosen]
        return taken

    def finish(self, result: dict[str, Any]) -> list[dict[str, Any]]:
        """Record a started job's result; returns a ``blocked`` result for every waiting job that now never can
        start (it depends, directly or through another, on a job that did not finish ``ok`` or ``skipped``)."""
        self.unfinished.discard(result["id"])
        if result["status"] in SATISFIED:
            return []
        blocked: list[dict[str, Any]] = []
        failed = [str(result["id"])]
        while failed:
            dep = failed.pop()
            for job in [j for j in self.waiting if dependency(j) == dep]:
                self.waiting.remove(job)
                self.unfinished.discard(job.id)
                failed.append(job.id)
                blocked.append({"id": job.id, "kind": job.kind, "status": "blocked", "step": None,
                                "returncode": None, "blocked_by": dep})
        return blocked


__all__ = ["SATISFIED", "Schedule", "dependency"]
