"""The executors' schedule: a job waits for its ``model_job``, dependents go first, a failure blocks its chain."""

from __future__ import annotations

from crosspan.bench.executors.schedule import Schedule
from crosspan.bench.jobs import Job


def _job(jid: str, model_job: str | None = None) -> Job:
    return Job(id=jid, kind="job", dir=f"/nowhere/{jid}", steps=(), info={"model_job": model_job} if model_job else {})


def test_dependents_start_first_and_a_failure_blocks_every_job_that_needs_it() -> None:
    m1, m2, m3 = _job("m1"), _job("m2"), _job("m3")
    t1, boxed, boxed_t = _job("t1", "m1"), _job("boxed", "m2"), _job("boxed-t", "boxed")
    schedule = Schedule([m1, m2, m3, t1, boxed, boxed_t])
    assert [j.id for j in schedule.take(2)] == ["m1", "m2"]
    assert schedule.finish({"id": "m1", "status": "ok"}) == []
    assert [j.id for j in schedule.take(1)] == ["t1"]  # m1's test job before the untouched m3
    blocked = schedule.finish({"id": "m2", "status": "failed"})
    assert [(b["id"], b["status"], b["blocked_by"]) for b in blocked] == [("boxed", "blocked", "m2"),
                                                                          ("boxed-t", "blocked", "boxed")]
    assert [j.id for j in schedule.take()] == ["m3"] and not schedule
    skipped = Schedule([_job("zs"), _job("zs-t", "zs")])
    skipped.take()
    assert skipped.finish({"id": "zs", "status": "skipped"}) == [] and [j.id for j in skipped.take()] == ["zs-t"]
