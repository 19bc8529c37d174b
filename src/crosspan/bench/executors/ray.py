"""Ray executor: one remote task a job on a Ray cluster (``address``) or a local Ray instance, with the spec's
CPUs and GPUs per job. Every node needs crosspan installed and the output folder on a shared filesystem."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from crosspan.bench.executors.schedule import Schedule
from crosspan.bench.jobs import Job
from crosspan.bench.runner import run_job
from crosspan.bench.spec import Executor as ExecutorSpec
from crosspan.core.errors import CrosspanError


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise CrosspanError(None, "the ray executor needs Ray, which is not installed",
                            "pip install 'crosspan[cluster]' (or use executor: {kind: local})") from None
    return ray


class RayExecutor:
    """Submits every job as a task (``num_cpus = cpus_per_job or threads_per_job``, ``num_gpus = gpus_per_job``),
    a job with a dependency once that job is done.

    A Ray instance already initialised in this process is used as it is; otherwise one is started (``address``
    from the spec, e.g. ``auto`` or ``ray://head:10001``; none: a local instance) and shut down at the end."""

    def __init__(self, spec: ExecutorSpec) -> None:
        self.spec = spec

    def run(self, jobs: Sequence[Job], executable: Sequence[str]) -> Iterator[dict[str, Any]]:
        if not jobs:
            return
        ray = _import_ray()
        started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"address": self.spec.address} if self.spec.address else \
                {"num_cpus": self.spec.workers() * (self.spec.cpus_per_job or self.spec.threads_per_job)}
            try:
                ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as err:
                raise CrosspanError(None, f"cannot start or reach Ray at {self.spec.address or 'a local instance'} "
                                    f"({str(err).splitlines()[0] if str(err) else type(err).__name__})",
                                    "start the cluster (`ray start --head`) or fix executor.address") from None
            started = True
        try:
            try:
                task = ray.remote(num_cpus=self.spec.cpus_per_job or self.spec.threads_per_job,
                                  num_gpus=self.spec.gpus_per_job, max_retries=0, **self.spec.extra)(run_job)
            except (TypeError, ValueError) as err:
                raise CrosspanError(None, f"Ray rejects the executor options: {err}",
                                    "use ray.remote option names in executor.extra (e.g. memory, resources)") from None
            schedule = Schedule(jobs)  # Ray queues what it is given; a dependent is given once its model is done
            refs: dict[Any, Job] = {}
            while schedule or refs:
                for job in schedule.take():
                    refs[task.remote(job.to_dict(), tuple(executable), self.spec.threads_per_job)] = job
                if not refs:
                    break
                done, _ = ray.wait(list(refs), num_returns=1)
                for ref in done:
                    result = _result(ray, ref, refs.pop(ref))
                    yield result
                    yield from schedule.finish(result)
        finally:
            if started:
                ray.shutdown()


def _result(ray: Any, ref: Any, job: Job) -> dict[str, Any]:
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as err:
        return {"id": job.id, "kind": job.kind, "status": "failed", "step": "ray-task", "returncode": -1,
                "error": str(err).splitlines()[0]}
