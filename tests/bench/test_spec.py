"""Benchmark spec validation and the job plan: hashed folders, command lines, zero-shot jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from crosspan.bench.jobs import arg_hash, build_plan, plan_dir
from crosspan.bench.spec import load_spec, parse_spec
from crosspan.core.errors import CrosspanError
from tests.bench.test_standin import write_spec

SPECS = Path(__file__).resolve().parents[2] / "benchmarks" / "specs"


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
    # every section is a schema: the error names the nested key, its own allowed keys and its own bound
    (lambda r: r["methods"][0].update(network=3), "methods[0].network: expected text, got 3"),
    (lambda r: r["dataset"]["synthetic"].update(patients="3"), "dataset.synthetic.patients: expected an integer >= 1"),
    (lambda r: r["dataset"]["synthetic"].update(bogus=1), "use only centers, patients, profile, seed"),
    (lambda r: r.update(tables=[{"name": "t", "order": {"zz": ["a"]}}]), "tables[0].order: unknown key(s) zz"),
    (lambda r: r.update(subsets={"s": {"patients": 0}}), "subsets.s.patients: expected an integer >= 1, got 0"),
    (lambda r: r.update(executable=""), "executable: empty"),
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
    # cohort, catalog, protocol; erm x 2 seeds + the zero-shot method once (its prediction has no seed)
    assert kinds == [["stage"], ["stage"], ["stage"], ["job"] * 3]
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
    stage = plan.waves[2][0]
    assert [s.name for s in stage.steps] == ["splits", "preprocess-split0"]
    prep = list(stage.steps[1].args)
    assert prep[prep.index("-o") + 1] == plan_dir(stage, "split0") and prep[prep.index("--fold") + 1] == "0"
    train = list(erm.steps[0].args)
    assert train[:2] == ["train", plan_dir(stage, "split0")]
    assert train[train.index("--steps") + 1] == "7" and "--resume" in train
    assert train[train.index("--hp") + 1] == "lr=0.01" and train[train.index("--device") + 1] == "cpu"
    pred = list(erm.steps[1].args)
    assert pred[:3] == ["predict", str(erm.path / "run"), str(Path(plan.waves[1][0].dir) / "catalog.csv")]
    assert "--fold" not in pred  # fold 0: today's `crosspan predict` has no --fold
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
    stage = plan.waves[-2][0]
    args = list(stage.steps[0].args)
    assert args[args.index("--label-ratios") + 1] == "0.1,1" and args[args.index("--folds") + 1] == "3"
    # One plan per split, --fold = the split's index in the splits JSON (folds outer, label ratios inner).
    folds = {s.name: s.args[s.args.index("--fold") + 1] for s in stage.steps[1:]}
    assert folds == {"preprocess-fold0-r10": "0", "preprocess-fold0": "1", "preprocess-fold1-r10": "2",
                     "preprocess-fold1": "3", "preprocess-fold2-r10": "4", "preprocess-fold2": "5"}
    job = next(j for j in plan.method_jobs if j.info["split"] == "fold1")
    assert job.steps[0].args[1] == plan_dir(stage, "fold1") and "--fold" in job.steps[1].args


def test_gpu_executor_trains_on_cuda_with_the_same_hash(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    cpu = build_plan(parse_spec(raw, tmp_path / "spec.yaml"))
    raw["executor"] = {"kind": "slurm", "gpus_per_job": 1}
    gpu = build_plan(parse_spec(raw, tmp_path / "spec.yaml"))
    assert [j.id for j in cpu.jobs] == [j.id for j in gpu.jobs]
    train = gpu.method_jobs[0].steps[0].args
    assert train[train.index("--device") + 1] == "cuda"


@pytest.mark.parametrize("name", sorted(p.name for p in SPECS.glob("*.yaml")))
def test_example_specs_are_valid(name: str) -> None:
    raw = yaml.safe_load((SPECS / name).read_text())
    if not isinstance(raw["dataset"], dict):  # a dataset on another machine: validate the rest
        raw["dataset"] = {"synthetic": {"patients": 4}}
    plan = build_plan(parse_spec(raw, SPECS / name))
    assert plan.method_jobs


def _parse_real(args: tuple[str, ...]) -> dict:
    """Parse a command line with the real `crosspan` CLI (options and types checked, nothing run)."""
    import typer.main

    from crosspan.cli.main import app

    cmd, rest, path = typer.main.get_command(app), list(args), []
    while hasattr(cmd, "get_command") and rest:
        sub = cmd.get_command(None, rest[0])
        if sub is None:
            raise LookupError(f"no command `crosspan {' '.join([*path, rest[0]])}`")
        cmd, path, rest = sub, [*path, rest[0]], rest[1:]
    return cmd.make_context(" ".join(path), rest).params


def test_command_lines_parse_with_the_real_cli(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    raw = _raw(tmp_path)
    raw["dataset"] = "data"
    raw["methods"] = [{"name": "erm", "method": "erm", "hp": {"lr": 0.01}}]
    raw["protocols"].append({"name": "ind", "protocol": "in-domain", "train": "A:T1", "folds": 2,
                             "label_ratios": [10, 100], "unlabeled": ["*:T2"]})
    raw["training"].update(batch_size=2, patch=[16, 32, 32], amp="bf16")
    plan = build_plan(parse_spec(raw, tmp_path / "spec.yaml"))
    lines = [s.args for j in plan.jobs for s in j.steps]
    assert {a[0] for a in lines} == {"data", "preprocess", "train", "predict", "evaluate"}
    parsed = [_parse_real(a) for a in lines if not (a[0] == "predict" and "--fold" in a)]
    train = next(p for p in parsed if "resume" in p)
    assert train["resume"] and train["hp"] == ["lr=0.01"] and train["patch"] == "16,32,32"
    from crosspan.bench import commands

    _parse_real(tuple(commands.report("r.csv", "r.html", "t")))
    try:  # `crosspan synth cohort` lands separately; check its flags once it exists
        _parse_real(tuple(commands.synth_cohort("out", load_spec(write_spec(tmp_path)).synthetic)))
    except LookupError:
        pytest.skip("`crosspan synth cohort` is not registered yet")


def test_method_warnings_name_unknown_methods_and_hyperparameters(tmp_path: Path) -> None:
    from crosspan.bench.spec import method_warnings

    raw = _raw(tmp_path)
    raw["methods"] = [{"name": "a", "method": "erm", "hp": {"lr": 0.1}}, {"name": "b", "method": "nosuch"},
                      {"name": "c", "method": "erm", "hp": {"bogus": 1}},
                      {"name": "d", "method": "x", "zero_shot": True}]
    warnings = method_warnings(parse_spec(raw, tmp_path / "spec.yaml"))
    assert len(warnings) == 2
    assert "`nosuch` is not registered" in warnings[0] and "no hyperparameter 'bogus'" in warnings[1]


def test_method_warnings_name_a_burn_in_that_outlasts_the_run(tmp_path: Path) -> None:
    """EQRM's default burn-in (2500, DomainBed's) is longer than a 2000-step spec: it would train plain ERM."""
    from crosspan.bench.spec import load_spec, method_warnings

    raw = _raw(tmp_path)
    raw["training"] = {**raw.get("training", {}), "steps": 2000}
    raw["methods"] = [{"name": "eqrm", "method": "eqrm"}, {"name": "eqrm-half", "method": "eqrm",
                                                          "hp": {"burnin_steps": 1000}},
                      {"name": "ib-long", "method": "ib-erm", "steps": 400}]
    warnings = method_warnings(parse_spec(raw, tmp_path / "spec.yaml"))
    assert len(warnings) == 2, warnings
    assert "method eqrm: burnin_steps=2500 >= the run's 2000 steps" in warnings[0]
    assert "method ib-long: warmup_steps=500 >= the run's 400 steps" in warnings[1]
    assert method_warnings(load_spec(SPECS / "dg.yaml")) == []  # the shipped spec gives EQRM half its run


def test_split_names_match_the_real_splits(tmp_path: Path) -> None:
    """`crosspan data splits` writes the splits in the order and with the names the plan assumes."""
    from typer.testing import CliRunner

    from crosspan.bench import commands
    from crosspan.cli.main import app
    from data_builders import crosspan_release

    root = crosspan_release(tmp_path / "data", centers=("A", "B"), sequences=("T1", "T2"), per_center=4,
                            manifest=True)
    raw = _raw(tmp_path)
    raw["dataset"] = str(root)
    raw["protocols"] = [{"name": "ind", "protocol": "in-domain", "train": "*:T1", "folds": 2,
                         "label_ratios": [50, 100]},
                        {"name": "xs", "protocol": "cross-sequence", "train": ["A:T1", "B:T1"]}]
    spec = parse_spec(raw, tmp_path / "spec.yaml")
    for proto in spec.protocols:
        out = tmp_path / f"{proto.name}.json"
        res = CliRunner().invoke(app, commands.splits(str(root), proto, str(out)))
        assert res.exit_code == 0, res.output
        written = [s["name"] for s in json.loads(out.read_text())["splits"]]
        assert written == [name for name, _, _ in commands.split_names(proto)]


def test_zero_shot_oracle_prompts_mark_results_oracle(tmp_path) -> None:
    import yaml

    from crosspan.bench.jobs import build_plan
    from crosspan.bench.spec import load_spec

    spec = {"name": "fm", "output": ".", "dataset": {"path": str(tmp_path / "catalog.csv")},
            "protocols": [{"name": "xseq", "protocol": "cross-sequence", "train": ["A:T1"]}],
            "methods": [{"name": "lms-oracle", "method": "litemedsam", "zero_shot": True},
                        {"name": "lms-auto", "method": "litemedsam", "zero_shot": True,
                         "hp": {"prompt": "model-box", "box_model": str(tmp_path / "run")}}],
            "seeds": [0]}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    (tmp_path / "catalog.csv").write_text("case_id\n")
    jobs = {j.info["method"]: j for j in build_plan(load_spec(path)).method_jobs}
    evaluate = {m: next(s.args for s in j.steps if s.name == "evaluate") for m, j in jobs.items()}
    assert "--oracle" in evaluate["lms-oracle"] and "--oracle" not in evaluate["lms-auto"]
    assert [s.name for s in jobs["lms-auto"].steps] == ["predict", "evaluate"]


def test_label_map_protocol_asks_for_tissue_maps_and_keeps_other_hashes(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, seeds=1))
    before = build_plan(spec)
    raw = yaml.safe_load(spec.path.read_text())
    raw["protocols"].append({"name": "lmaps", "protocol": "cross-sequence", "train": ["A:T1"],
                             "training_input": "label-maps"})
    raw["methods"].append({"name": "prand", "method": "physics-rand"})
    plan = build_plan(parse_spec(raw, spec.path))
    cohort = list(plan.waves[0][0].steps[0].args)
    assert "--tissue-maps" in cohort and "--tissue-maps" not in list(before.waves[0][0].steps[0].args)
    stages = {j.info.get("protocol"): j for j in plan.waves[2]}
    lm_splits = list(stages["lmaps"].steps[0].args)
    assert lm_splits[lm_splits.index("--training-input") + 1] == "label-maps"
    assert "--training-input" not in list(stages["xseq"].steps[0].args)
    # a spec without label maps hashes the same arguments as before the option existed (job IDs unchanged)
    assert "tissue_maps" not in before.waves[0][0].args["synthetic"]
    assert "training_input" not in before.waves[2][0].args["protocol"]
    assert stages["lmaps"].args["protocol"]["training_input"] == "label-maps"
    raw["protocols"][1]["training_input"] = "pixels"
    with pytest.raises(CrosspanError, match="unknown training input 'pixels'"):
        parse_spec(raw, spec.path)


def test_spec_protocol_is_a_protocol_spec(tmp_path: Path) -> None:
    from crosspan.data.protocols import ProtocolSpec

    raw = _raw(tmp_path)
    raw["protocols"][0].update(train="A:T1, B:T1", val_fraction=0.2, label_ratios=[10, 100])
    proto = parse_spec(raw, tmp_path / "spec.yaml").protocols[0]
    assert proto.train == ("A:T1", "B:T1") and proto.label_ratios == (0.1, 1.0)
    ps = proto.protocol_spec()
    assert ps == ProtocolSpec(protocol="cross-sequence", source=["A:T1", "B:T1"], label_ratios=[0.1, 1.0],
                              val_fraction=0.2)  # what the spec leaves out takes ProtocolSpec's defaults
    assert ps.test_fraction == ProtocolSpec(protocol="in-domain", source=[]).test_fraction


def test_protocol_spacing_reaches_preprocess_and_keeps_other_hashes(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, seeds=1))
    before = build_plan(spec)
    raw = yaml.safe_load(spec.path.read_text())
    raw["protocols"][0]["spacing"] = [4, 3.5, 3.5]
    plan = build_plan(parse_spec(raw, spec.path))
    prep = list(plan.waves[2][0].steps[1].args)
    assert prep[prep.index("--spacing") + 1] == "4,3.5,3.5"
    assert "--spacing" not in list(before.waves[2][0].steps[1].args)
    assert "spacing" not in before.waves[2][0].args["protocol"]  # a spec without it keeps its job IDs
    assert {j.id for j in plan.method_jobs}.isdisjoint({j.id for j in before.method_jobs})  # the plan changed
    for bad in ([4, 3.5], [4, 0, 3.5], "fine"):
        raw["protocols"][0]["spacing"] = bad
        with pytest.raises(CrosspanError, match=r"protocols\[0\].spacing: expected 3 spacings > 0"):
            parse_spec(raw, spec.path)
