"""Orchestration overhead of `crosspan benchmark`: plan size vs time, per-job overhead of the local executor,
and the cost of a re-run that skips everything. Steps are a no-op stand-in `crosspan` (tests/bench/test_standin.py),
so the figures are the runner's own cost, not training.

    .venv/bin/python benchmarks/speed/bench_overhead.py            # prints a markdown table
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.test_standin import write_spec  # noqa: E402

from crosspan.bench.collect import collect_results  # noqa: E402
from crosspan.bench.jobs import build_plan  # noqa: E402
from crosspan.bench.spec import load_spec  # noqa: E402
from crosspan.bench.sweep import run_plan, status_rows  # noqa: E402


def timed(fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        big = load_spec(write_spec(root, seeds=2500, steps=1))  # 2 methods x 2500 seeds = 5000 jobs
        plan, t = timed(build_plan, big)
        rows.append(("build plan, 5000 jobs", f"{t:.2f} s"))
        _, t = timed(status_rows, plan)
        rows.append(("status of 5000 pending jobs (dry-run table data)", f"{t:.2f} s"))

        (root / "small").mkdir()
        spec = load_spec(write_spec(root / "small", seeds=30, steps=1))
        spec = dataclasses.replace(spec, executor=dataclasses.replace(spec.executor, jobs=2))
        plan = build_plan(spec)
        n = len(plan.method_jobs)
        tally, t = timed(run_plan, plan, progress=False)
        steps = sum(len(j.steps) for j in plan.jobs)
        rows.append((f"run {n} jobs + 3 stages ({steps} steps, no-op commands), local, 2 parallel",
                     f"{t:.1f} s ({t / steps * 2 * 1000:.0f} ms a step a worker, incl. python start)"))
        _, t = timed(run_plan, plan, progress=False)
        rows.append((f"re-run, all {len(plan.jobs)} done (skips everything)", f"{t * 1000:.0f} ms"))
        (table, _, _), t = timed(collect_results, plan)
        rows.append((f"collect {len(table)} rows from {n} jobs", f"{t:.2f} s"))
    print("| measurement | time |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
