"""A zero-shot method gets one job a split, not one a seed (its prediction does not depend on the seed), unless a
trained model of each seed prompts it; trained jobs keep their ids; tables show such a row with one seed, no SD."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd
import yaml

from crosspan.bench.collect import markdown, seed_note
from crosspan.bench.jobs import arg_hash, build_plan, seeded
from crosspan.bench.spec import load_spec, parse_spec
from crosspan.bench.sweep import plan_counts
from crosspan.bench.tables import TableSpec, build_table, row_seeds, to_markdown
from tests.bench.test_standin import write_spec
from tests.example_results import example_results

METHODS = [{"name": "erm", "method": "erm", "hp": {"lr": 0.01}}, {"name": "lms", "method": "litemedsam"}]
PROTOCOLS = [{"name": "xseq", "protocol": "cross-sequence", "train": ["A:T1"], "label_ratios": [25, 100]}]


def _spec(tmp_path: Path, methods: list[dict] = METHODS):  # noqa: ANN202 - Spec
    return load_spec(write_spec(tmp_path, seeds=2, steps=3, methods=methods, protocols=PROTOCOLS))


def _trained_id(spec, method, stage_id: str, split: str, seed: int, ratio: float) -> str:  # noqa: ANN001
    """The id scheme of trained jobs, written out from the spec (not read from the job): name, then a hash of the
    method entry, protocol stage, split, seed, label ratio, tolerance and training budget (device left out)."""
    entry = {k: v for k, v in asdict(method).items() if k not in ("protocols", "prompts_from")}
    training = {k: v for k, v in asdict(spec.training).items() if k != "device" and not k.startswith("eval_")}
    args = {"method": entry, "protocol_stage": stage_id, "split": split, "seed": seed, "label_ratio": ratio,
            "evaluation": {"tolerance": spec.evaluation.tolerance}, "training": training}
    tag = "r25" if ratio < 1 else "r100"
    return f"{method.name}-xseq-s{seed}-{tag}-{arg_hash(args)}"


def test_zero_shot_runs_once_a_split_trained_jobs_keep_their_ids(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    erm, lms = spec.methods
    assert lms.zero_shot and not seeded(lms) and seeded(erm)  # the registry's kind, no flag in the spec
    plan = build_plan(spec)
    stage = next(j for j in plan.jobs if j.info.get("stage") == "protocol")
    jobs = {(j.info["method"], j.info["split"], j.info["seed"]): j for j in plan.method_jobs}
    splits = {"split0-r25": 0.25, "split0": 1.0}
    assert sorted(k for k in jobs if k[0] == "lms") == [("lms", s, 0) for s in sorted(splits)]  # first seed only
    assert sorted(k for k in jobs if k[0] == "erm") == sorted(("erm", s, seed) for s in splits for seed in (0, 1))
    for split, ratio in splits.items():
        for seed in (0, 1):
            assert jobs["erm", split, seed].id == _trained_id(spec, erm, stage.id, split, seed, ratio)
        assert [s.name for s in jobs["lms", split, 0].steps] == ["predict", "evaluate"]
    # the zero-shot job keeps the id its seed-0 job had, so a results folder from before resumes it
    zs = jobs["lms", "split0", 0]
    assert zs.id.startswith("lms-xseq-s0-r100-") and zs.args["seed"] == 0 and "training" not in zs.args
    assert plan_counts(plan) == ("9 stages and jobs: 3 stages, 6 model jobs (4 trained, 2 zero-shot: one seed each, "
                                 "as the seed changes nothing they predict), 0 test-set jobs")


def test_zero_shot_prompted_by_a_trained_model_keeps_every_seed(tmp_path: Path) -> None:
    boxed = {"name": "lms-box", "method": "litemedsam", "hp": {"prompt": "model-box"}, "prompts_from": "erm"}
    plan = build_plan(_spec(tmp_path, [*METHODS, boxed]))
    jobs = [j for j in plan.method_jobs if j.info["method"] == "lms-box"]
    assert sorted((j.info["split"], j.info["seed"]) for j in jobs) == [(s, seed) for s in ("split0", "split0-r25")
                                                                       for seed in (0, 1)]
    assert {j.info["model_job"] for j in jobs} == {j.id for j in plan.method_jobs if j.info["method"] == "erm"}


def test_one_seed_spec_is_unchanged(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    raw = yaml.safe_load(spec.path.read_text())
    raw["seeds"] = [3]
    plan = build_plan(parse_spec(raw, spec.path))
    assert sorted((j.info["method"], j.info["seed"]) for j in plan.method_jobs) == [("erm", 3)] * 2 + [("lms", 3)] * 2


def test_a_one_seed_row_has_no_seed_sd_and_a_footnote(tmp_path: Path) -> None:
    results = example_results(seeds=3)  # erm and dg on 3 seeds; zero-shot promptseg on one
    table_spec = TableSpec(name="t", columns=("transfer",))
    table = build_table(results, table_spec, ("erm", "dg", "promptseg"), n_boot=50)
    assert table.shape[0] == 3 and row_seeds(table).tolist() == [3, 3, 1]  # same rows as ever, n_seeds per row
    cells = table.set_index("method")["cross-sequence"]
    assert "±" in cells["erm"] and "±" not in cells["promptseg"]  # one seed: no SD (blank, not 0)
    assert "_seeds" not in to_markdown(table, table_spec)
    spec = load_spec(write_spec(tmp_path, seeds=3, methods=[{"name": "erm", "method": "erm"}, {"name": "dg",
                                "method": "gin"}, {"name": "promptseg", "method": "litemedsam"}]))
    plan = build_plan(spec)
    note = seed_note(plan, table, table_spec)
    assert "promptseg (n_seeds = 1): zero-shot" in note and "seed 0" in note and "erm" not in note
    text = markdown(plan, [(table_spec, table)], "spec.yaml", results.assign(job="x"))
    assert text.rstrip().endswith("no seed SD.") and "| promptseg |" in text
    short = build_table(results[~((results.method == "erm") & (results.seed == 2))], table_spec, n_boot=50)
    assert "erm (n_seeds = 2): fewer seeds than the spec's 3" in seed_note(plan, short, table_spec)
    assert seed_note(plan, pd.DataFrame(), table_spec) == ""
