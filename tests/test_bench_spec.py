"""Benchmark spec validation and the job plan: hashed folders, command lines, zero-shot jobs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crosspan.bench.jobs import arg_hash, build_plan
from crosspan.bench.spec import load_spec, parse_spec
from crosspan.data.errors import CrosspanError
from test_bench_standin import write_spec

SPECS = Path(__file__).resolve().parents[1] / "benchmarks" / "specs"


def _raw(tmp_path: Path) -> dict:
    return yaml.safe_load(write_spec(tmp_path).read_text())


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r.pop("methods"), "missing required key `methods`"),
    (lambda r: r.update(bogus=1), "unknown key(s) bogus"),
    (lambda r: r["protocols"][0].update(protocol="sideways"), "unknown protocol 'sideways'"),
    (lambda r: r.update(label_ratios=[0, 10]), "label ratio 0 outside"),
    (lambda r: r["methods"].append({"name": "erm", "method": "erm"}), "duplicate name(s) erm"),
    (lambda r: r.update(executor={"kind": "k8s"}), "unknown executor 'k8s'"),
    (lambda r: r.update(dataset={"path": "nowhere"}), "does not exist"),
    (lambda r: r.update(evaluation={"metrics": ["dice", "f1"]}), "unknown metric(s) f1"),
    (lambda r: r.update(seeds=["zero"]), "seeds: expected an integer"),
])
def test_bad_specs_name_file_problem_and_fix(tmp_path: Path, change, message: str) -> None:
    raw = _raw(tmp_path)
    change(raw)
    with pytest.raises(CrosspanError) as err:
        parse_spec(raw, tmp_path / "spec.yaml")
    text = str(err.value)
    assert message in text and str(tmp_path / "spec.yaml") in text and "Fix:" in text


def test_bad_yaml_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(CrosspanError, match="not valid YAML"):
        load_spec(path)


def test_plan_hashes_are_stable_and_follow_arguments(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, seeds=2))
    plan = build_plan(spec)
    ids = [j.id for j in plan.jobs]
    assert ids == [j.id for j in build_plan(load_spec(spec.path)).jobs]  # stable across loads
    assert len(set(ids)) == len(ids)
    kinds = [[j.kind for j in wave] for wave in plan.waves]
    assert kinds == [["stage"], ["stage"], ["stage"], ["job"] * 4]  # cohort, catalog, protocol, 2 methods x 2 seeds
    erm0 = next(j for j in plan.method_jobs if j.info["method"] == "erm" and j.info["seed"] == 0)
    assert erm0.id.startswith("erm-xseq-s0-r100-") and erm0.id.endswith(arg_hash(erm0.args))
    # Changing a hyperparameter changes only that method's jobs; the executor does not change any hash.
    raw = yaml.safe_load(spec.path.read_text())
    raw["methods"][0]["hp"]["lr"] = 0.1
    raw["executor"] = {"kind": "ray", "gpus_per_job": 1}
    raw["executable"] = "somewhere/crosspan"
    other = build_plan(parse_spec(raw, spec.path))
    changed = {a.id for a in plan.jobs} ^ {b.id for b in other.jobs}
    assert {i.split("-")[0] for i in changed} == {"erm"}


def test_job_command_lines(tmp_path: Path) -> None:
    plan = build_plan(load_spec(write_spec(tmp_path, seeds=1, steps=7)))
    erm = next(j for j in plan.method_jobs if j.info["method"] == "erm")
    zs = next(j for j in plan.method_jobs if j.info["method"] == "zs")
    assert [s.name for s in erm.steps] == ["train", "predict", "evaluate"]
    assert [s.name for s in zs.steps] == ["predict", "evaluate"]  # foundation models: no training step
    train = list(erm.steps[0].args)
    assert train[:2] == ["train", str(Path(plan.waves[2][0].dir) / "plan")]
    assert train[train.index("--steps") + 1] == "7" and "--resume" in train
    assert train[train.index("--hp") + 1] == "lr=0.01" and train[train.index("--split") + 1] == "split0"
    ev = list(erm.steps[2].args)
    assert ev[ev.index("--run") + 1] == erm.id and ev[ev.index("-o") + 1] == erm.info["results"]
    splits = list(plan.waves[2][0].steps[0].args)
    assert splits[:3] == ["data", "splits", str(Path(plan.waves[1][0].dir) / "catalog.csv")]
    assert splits[splits.index("--train") + 1] == "A:T1"


def test_label_ratios_and_folds_make_split_names(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    raw["protocols"] = [{"name": "indom", "protocol": "in-domain", "train": "A:T1", "folds": 3,
                         "label_ratios": [10, 100]}]
    raw["methods"] = ["erm"]
    raw["seeds"] = [0]
    plan = build_plan(parse_spec(raw, tmp_path / "spec.yaml"))
    assert sorted(j.info["split"] for j in plan.method_jobs) == sorted(
        ["fold0-r10", "fold0", "fold1-r10", "fold1", "fold2-r10", "fold2"])
    assert {j.info["label_ratio"] for j in plan.method_jobs} == {0.1, 1.0}
    assert any(j.id.startswith("erm-indom-fold1-s0-r10-") for j in plan.method_jobs)
    args = list(plan.waves[-2][0].steps[0].args)
    assert args[args.index("--label-ratios") + 1] == "0.1,1" and args[args.index("--folds") + 1] == "3"


@pytest.mark.parametrize("name", sorted(p.name for p in SPECS.glob("*.yaml")))
def test_example_specs_are_valid(name: str) -> None:
    raw = yaml.safe_load((SPECS / name).read_text())
    if not isinstance(raw["dataset"], dict):  # a dataset on another machine: validate the rest
        raw["dataset"] = {"synthetic": {"patients": 4}}
    plan = build_plan(parse_spec(raw, SPECS / name))
    assert plan.method_jobs
