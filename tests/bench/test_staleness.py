"""Finished jobs trained with hyperparameters the code no longer gives them are named by `benchmark status`:
a changed value, a key the run predates whose method declares the older behaviour (synthseg's volume_norm), and
nothing for a run that matches or a new key that keeps the old behaviour."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from crosspan.bench.jobs import Job, build_plan
from crosspan.bench.spec import load_spec
from crosspan.bench.staleness import moved_hparams, stale_jobs
from crosspan.cli.main import app
from crosspan.methods import get_method
from crosspan.methods.base import resolve_hparams
from tests.bench.test_standin import mark_done, write_spec


def _finish(job: Job, hparams: dict) -> None:
    (job.path / "run").mkdir(parents=True, exist_ok=True)
    (job.path / "run" / "model.json").write_text(json.dumps({"method": "erm", "hparams": hparams}))
    mark_done(job)


def test_a_changed_value_is_named_and_a_matching_run_is_not(tmp_path: Path) -> None:
    spec_path = write_spec(tmp_path, seeds=2, steps=1)
    plan = build_plan(load_spec(spec_path))
    trained = [j for j in plan.method_jobs if j.info.get("run_dir")]
    assert len(trained) == 2
    now = resolve_hparams(get_method("erm"), {"lr": 0.01})
    _finish(trained[0], now)
    assert stale_jobs(plan) == []
    _finish(trained[1], {**now, "lr": 0.02})
    warnings = stale_jobs(plan)
    assert len(warnings) == 1 and trained[1].id in warnings[0] and "lr: 0.02 -> 0.01" in warnings[0]
    res = CliRunner().invoke(app, ["benchmark", "status", str(spec_path)])
    assert res.exit_code == 0 and "lr: 0.02 -> 0.01" in res.output.replace("\n", " ")


def test_a_key_the_run_predates_counts_as_its_declared_legacy_value() -> None:
    cls = get_method("synthseg")
    now = resolve_hparams(cls, {})
    before = {k: v for k, v in now.items() if k != "volume_norm"}
    assert moved_hparams(before, now, cls.legacy_hparams) == ["volume_norm: 0 (before the option existed) -> 1"]
    assert moved_hparams(before, {**now, "volume_norm": 0}, cls.legacy_hparams) == []
    without_gamma = {k: v for k, v in now.items() if k != "gamma_std"}  # not declared: taken as unchanged
    assert moved_hparams(without_gamma, now, cls.legacy_hparams) == []
