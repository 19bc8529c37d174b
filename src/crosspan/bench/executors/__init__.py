"""Executors run jobs and yield each job's result dict as it finishes: ``local`` (threads driving subprocesses),
``ray`` (one remote task a job) and ``slurm`` (one submitit job a job)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from crosspan.bench.jobs import Job
from crosspan.bench.spec import Executor as ExecutorSpec


class JobExecutor(Protocol):
    def run(self, jobs: Sequence[Job], executable: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Run ``jobs``; yield one result dict per job as it finishes."""
        ...


def make_executor(spec: ExecutorSpec, output: Path) -> JobExecutor:
    """The executor a spec names; Ray and submitit are imported only when used."""
    if spec.kind == "ray":
        from crosspan.bench.executors.ray import RayExecutor

        return RayExecutor(spec)
    if spec.kind == "slurm":
        from crosspan.bench.executors.slurm import SlurmExecutor

        return SlurmExecutor(spec, output / "slurm")
    from crosspan.bench.executors.local import LocalExecutor

    return LocalExecutor(spec)


__all__ = ["JobExecutor", "make_executor"]
