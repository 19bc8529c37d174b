"""Local executor: up to N jobs at once on this machine (threads, each driving its job's subprocesses)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from crosspan.bench.jobs import Job
from crosspan.bench.runner import reset_stop, run_job, stop_all
from crosspan.bench.spec import Executor as ExecutorSpec


class LocalExecutor:
    """``jobs`` parallel jobs (default ``max(1, cpu_count // threads_per_job)``)."""

    def __init__(self, spec: ExecutorSpec) -> None:
        self.spec = spec
        self.workers = spec.workers()

    def run(self, jobs: Sequence[Job], executable: Sequence[str]) -> Iterator[dict[str, Any]]:
        if not jobs:
            return
        reset_stop()
        with ThreadPoolExecutor(max_workers=min(self.workers, len(jobs)), thread_name_prefix="bench") as pool:
            pending: set[Future] = {pool.submit(run_job, j, tuple(executable), self.spec.threads_per_job)
                                    for j in jobs}
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        yield fut.result()
            except BaseException:  # Ctrl-C, or the consumer stopped: queued jobs never start, running steps die
                pool.shutdown(wait=False, cancel_futures=True)
                stop_all()
                raise
