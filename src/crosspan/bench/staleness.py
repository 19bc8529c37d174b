"""Finished jobs whose model was trained with other hyperparameters than the code now resolves for them.

A job's hash covers its spec entry, not the method's defaults, so a reused run folder keeps a finished job after
the code changed a default (synthseg's ``volume_norm`` did): its results then describe code that no longer runs.
``benchmark run`` and ``status`` warn per such job, naming what moved and the fix; nothing is deleted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crosspan.bench.jobs import JobPlan, job_status


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def moved_hparams(recorded: dict[str, Any], current: dict[str, Any], legacy: dict[str, Any]) -> list[str]:
    """``key: then -> now`` for each hyperparameter the code resolves differently from what a run recorded. A key
    the run predates counts as its ``legacy`` value (the method's ``legacy_hparams``) or, not listed there, as
    unchanged: a new option defaults to the old behaviour unless its method says otherwise."""
    then, now, old = _as_json(recorded), _as_json(current), _as_json(legacy)
    out = []
    for k in sorted(now):
        if k in then and then[k] != now[k]:
            out.append(f"{k}: {then[k]} -> {now[k]}")
        elif k not in then and k in old and old[k] != now[k]:
            out.append(f"{k}: {old[k]} (before the option existed) -> {now[k]}")
    return out


def stale_jobs(plan: JobPlan) -> list[str]:
    """One warning per finished trained job whose ``run/model.json`` hyperparameters differ from what the method's
    class resolves for the spec's ``hp`` today. Jobs without a model (zero-shot, stages) are not checked."""
    from crosspan.core.errors import CrosspanError
    from crosspan.methods.base import get_method, method_names, resolve_hparams

    known, out = set(method_names()), []
    for job in plan.method_jobs:
        run_dir = job.info.get("run_dir")
        method = job.args.get("method", {})
        if not run_dir or method.get("method") not in known or job_status(job) != "done":
            continue
        try:
            recorded = json.loads((Path(run_dir) / "model.json").read_text())["hparams"]
            cls = get_method(method["method"])
            current = resolve_hparams(cls, dict(method.get("hp") or {}))
        except (OSError, ValueError, KeyError, TypeError, CrosspanError):
            continue  # no readable model document: the job's own steps report that
        moved = moved_hparams(recorded, current, cls.legacy_hparams)
        if moved:
            out.append(f"job {job.id}: trained with other hyperparameters than the code now gives it "
                       f"({'; '.join(moved)}); its results describe the older code: delete {job.path} to retrain "
                       "it, or pin the old values in the spec's hp")
    return out


__all__ = ["moved_hparams", "stale_jobs"]
