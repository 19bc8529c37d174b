"""Slurm executor via submitit: one Slurm job a benchmark job (partition, time, GPUs and CPUs per job from the
spec). ``cluster: local`` runs the same path with submitit's local executor (tests, a workstation); ``cluster:
debug`` runs in this process. The output folder must be on a filesystem the compute nodes share."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from crosspan.bench.executors.schedule import Schedule
from crosspan.bench.jobs import Job
from crosspan.bench.runner import append_event, run_job
from crosspan.bench.spec import Executor as ExecutorSpec
from crosspan.core.errors import CrosspanError


def _import_submitit() -> Any:
    try:
        import submitit
    except ImportError:
        raise CrosspanError(None, "the slurm executor needs submitit, which is not installed",
                            "pip install 'crosspan[cluster]' (or use executor: {kind: local})") from None
    return submitit


class SlurmExecutor:
    """Submits the jobs with ``submitit.AutoExecutor`` and waits for them, yielding results as they finish."""

    def __init__(self, spec: ExecutorSpec, folder: Path, poll_s: float = 1.0) -> None:
        self.spec = spec
        self.folder = folder
        self.poll_s = poll_s

    def executor(self) -> Any:
        submitit = _import_submitit()
        try:
            ex = submitit.AutoExecutor(folder=str(self.folder / "%j"), cluster=self.spec.cluster)
        except RuntimeError as err:
            raise CrosspanError(None, f"cannot submit to Slurm from here ({str(err).splitlines()[0]})",
                                "run on a Slurm login node, or set executor.cluster: local to test the path "
                                "locally") from None
        params: dict[str, Any] = {"timeout_min": self.spec.time, "name": "crosspan-bench",
                                  "cpus_per_task": self.spec.cpus_per_job or self.spec.threads_per_job}
        if self.spec.gpus_per_job:
            params["gpus_per_node"] = int(self.spec.gpus_per_job)
        if self.spec.partition:
            params["slurm_partition"] = self.spec.partition
        params.update(self.spec.extra)  # submitit's own names, e.g. slurm_account, slurm_qos, mem_gb
        try:
            ex.update_parameters(**params)
        except (NameError, AssertionError, ValueError) as err:
            raise CrosspanError(None, f"submitit rejects the executor options: {str(err).splitlines()[0]}",
                                "use submitit's parameter names in executor.extra (e.g. slurm_account, "
                                "mem_gb)") from None
        return ex

    def run(self, jobs: Sequence[Job], executable: Sequence[str]) -> Iterator[dict[str, Any]]:
        if not jobs:
            return
        ex = self.executor()
        # Slurm queues the jobs itself (``jobs`` caps them when given); local processes are capped like `local`.
        cap = self.spec.jobs or (len(jobs) if ex.cluster == "slurm" else self.spec.workers())
        schedule = Schedule(jobs)  # a dependent is submitted once the job it depends on has finished
        submitted: dict[str, tuple[Any, Job]] = {}
        while schedule or submitted:
            for job in schedule.take(cap - len(submitted)):
                handle = ex.submit(run_job, job.to_dict(), tuple(executable), self.spec.threads_per_job)
                append_event(job.path.parent / "submitted.jsonl", {"job": job.id, "slurm_id": str(handle.job_id),
                                                                   "cluster": ex.cluster})
                submitted[job.id] = (handle, job)
            if not submitted:
                break
            finished = [k for k, (h, _) in submitted.items() if h.done()]
            for jid in finished:
                handle, job = submitted.pop(jid)
                result = _result(handle, job)
                yield result
                yield from schedule.finish(result)
            if not finished:
                time.sleep(self.poll_s)


def _result(handle: Any, job: Job) -> dict[str, Any]:
    try:
        return handle.result()
    except Exception as err:  # noqa: BLE001 - submitit raises its own types (timeouts, preemption, node failures)
        return {"id": job.id, "kind": job.kind, "status": "failed", "step": "slurm-job", "returncode": -1,
                "error": str(err).splitlines()[0] if str(err) else type(err).__name__,
                "slurm_id": str(handle.job_id)}
