"""Local executor: up to N jobs at once on this machine (threads, each driving its job's subprocesses)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from crosspan.bench.executors.schedule import Schedule
from crosspan.bench.jobs import Job
from crosspan.bench.runner import reset_stop, run_job, stop_all
from crosspan.bench.spec import Executor as ExecutorSpec


class LocalExecutor:
    """``jobs`` parallel jobs (default ``max(1, cpu_count // threads_per_job)``), started in :class:`Schedule`
    order (a job waits for the one it depends on)."""

    def __init__(self, spec: ExecutorSpec) -> None:
        self.spec = spec
        self.workers = spec.workers()

    def run(self, jobs: Sequence[Job], executable: Sequence[str]) -> Iterator[dict[str, Any]]:
        if not jobs:
            return
        reset_stop()
        schedule = Schedule(jobs)
        with ThreadPoolExecutor(max_workers=min(self.workers, len(jobs)), thread_name_prefix="bench") as pool:
            running: dict[Future, Job] = {}
            try:
                while schedule or running:
                    for job in schedule.take(self.workers - len(running)):
                        running[pool.submit(run_job, job, tuple(executable), self.spec.threads_per_job)] = job
                    if not running:  # cannot happen: a waiting job's dependency is running or was released
                        break
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in done:
                        del running[fut]
                        result = fut.result()
                        yield result
                        yield from schedule.finish(result)
            except BaseException:  # Ctrl-C, or the consumer stopped: queued jobs never start, running steps die
                pool.shutdown(wait=False, cancel_futures=True)
                stop_all()
                raise
