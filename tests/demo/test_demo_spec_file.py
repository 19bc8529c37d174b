"""benchmarks/specs/demo.yaml is the demo's own spec with more seeds: its seed-0 jobs are the jobs `crosspan demo`
runs (same ids, same commands), so a demo folder resumes the 3-seed run and the two can never drift apart."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from crosspan.bench.jobs import Job, build_plan
from crosspan.bench.spec import load_spec
from crosspan.demo.spec import DemoSettings, demo_spec

SPEC = Path(__file__).resolve().parents[2] / "benchmarks" / "specs" / "demo.yaml"


def _relative_steps(job: Job, root: Path) -> list[list[str]]:
    return [[a.replace(str(root), "ROOT") for a in s.args] for s in job.steps]


def test_demo_yaml_seed0_is_the_demo(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    demo_dir.mkdir()
    (demo_dir / "demo_spec.yaml").write_text(yaml.safe_dump(demo_spec(DemoSettings()), sort_keys=False))
    demo = build_plan(load_spec(demo_dir / "demo_spec.yaml"))
    full = build_plan(dataclasses.replace(load_spec(SPEC), output=tmp_path / "full"))
    seed0 = [j for j in full.jobs if j.info.get("seed", 0) in (0, "")]
    assert [j.id for j in demo.jobs] == [j.id for j in seed0]
    for mine, theirs in zip(demo.jobs, seed0, strict=True):
        assert _relative_steps(mine, demo_dir) == _relative_steps(theirs, tmp_path / "full")
    assert sorted({j.info["seed"] for j in full.method_jobs}) == [0, 1, 2]
