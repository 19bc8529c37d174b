"""Benchmark plans for label-map methods (only on ``training_input: label-maps`` protocols) and for the
``ssl_pair`` stage (``crosspan ssl pair`` before preprocessing, paired pool, true-label upper bound)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crosspan.bench.jobs import build_plan
from crosspan.bench.spec import load_spec, parse_spec
from crosspan.core.errors import CrosspanError
from tests.bench.test_standin import write_spec

IMAGES = {"name": "xseq", "protocol": "cross-sequence", "train": ["A:T1"]}
MAPS = {**IMAGES, "name": "xseq-lm", "training_input": "label-maps"}
PAIRED = {**IMAGES, "name": "pair", "unlabeled": ["*:OOP", "*:T2"], "label_ratios": [25, 100],
          "ssl_pair": "transported"}


def _plan(tmp_path: Path, protocols: list[dict], methods: list[dict]):  # noqa: ANN202
    return build_plan(load_spec(write_spec(tmp_path, seeds=1, protocols=protocols, methods=methods)))


def _pairs(plan) -> set[tuple[str, str]]:  # noqa: ANN001
    return {(j.info["method"], j.info["protocol"]) for j in plan.method_jobs}


def test_label_map_methods_run_only_on_label_map_protocols(tmp_path: Path) -> None:
    plan = _plan(tmp_path, [IMAGES, MAPS], [{"name": "erm", "method": "erm"},
                                           {"name": "physics-rand", "method": "physics-rand"},
                                           {"name": "synthseg", "method": "synthseg"},
                                           {"name": "zs", "method": "medsam", "zero_shot": True}])
    assert _pairs(plan) == {("erm", "xseq"), ("physics-rand", "xseq-lm"), ("synthseg", "xseq-lm"), ("zs", "xseq")}
    cohort = list(plan.waves[0][0].steps[0].args)
    assert "--tissue-maps" in cohort
    lm = next(j for j in plan.method_jobs if j.info["method"] == "physics-rand")
    train = list(lm.steps[0].args)
    assert train[1].startswith(str(tmp_path / "out" / "stages" / "protocol-xseq-lm-"))


def test_a_method_listing_protocols_runs_only_there(tmp_path: Path) -> None:
    plan = _plan(tmp_path, [IMAGES, {**IMAGES, "name": "other"}], [{"name": "erm", "method": "erm"},
                                                                  {"name": "erm2", "method": "erm",
                                                                   "protocols": ["other"]}])
    assert _pairs(plan) == {("erm", "xseq"), ("erm", "other"), ("erm2", "other")}
    raw = yaml.safe_load(write_spec(tmp_path, methods=[{"name": "e", "method": "erm", "protocols": ["nope"]}])
                         .read_text())
    with pytest.raises(CrosspanError, match="unknown protocol"):
        parse_spec(raw, tmp_path / "spec.yaml")


def test_ssl_pair_stage_pairs_each_split_then_preprocesses_its_catalog(tmp_path: Path) -> None:
    plan = _plan(tmp_path, [PAIRED, {**PAIRED, "name": "pool", "label_ratios": [25], "ssl_pair": "paired-pool"},
                            {**PAIRED, "name": "bound", "label_ratios": [100], "ssl_pair": "true-labels"}],
                 [{"name": "ps", "method": "paired-sequence"}])
    stages = {j.info["protocol"]: j for j in plan.jobs if j.info.get("stage") == "protocol"}
    steps = {s.name: list(s.args) for s in stages["pair"].steps}
    assert list(steps) == ["splits", "pair-split0-r25", "preprocess-split0-r25", "pair-split0", "preprocess-split0"]
    pair = steps["pair-split0"]
    assert pair[:3] == ["ssl", "pair", pair[2]] and pair[pair.index("--fold") + 1] == "1"
    out = pair[pair.index("-o") + 1]
    pre = steps["preprocess-split0"]
    assert pre[1] == f"{out}/catalog.csv" and pre[pre.index("--fold") + 1] == "1"
    pool = {s.name: list(s.args) for s in stages["pool"].steps}["preprocess-split0-r25"]
    assert pool[pool.index("--splits") + 1].endswith("splits_paired.json") and pool[pool.index("--fold") + 1] == "0"
    bound = {s.name: list(s.args) for s in stages["bound"].steps}
    assert bound["true-labels-split0"][:2] == ["ssl", "true-labels"]
    assert bound["preprocess-split0"][1].endswith("true_labels_catalog.csv")
    evals = {j.info["protocol"]: list(j.steps[-1].args) for j in plan.method_jobs}
    assert "--oracle" in evals["bound"] and "--oracle" not in evals["pair"]  # the bound saw the targets' labels


def test_ssl_pair_needs_an_unlabeled_pool(tmp_path: Path) -> None:
    raw = yaml.safe_load(write_spec(tmp_path, protocols=[{**IMAGES, "ssl_pair": "transported"}]).read_text())
    with pytest.raises(CrosspanError, match="needs an unlabeled pool"):
        parse_spec(raw, tmp_path / "spec.yaml")


def test_ssl_true_labels_replaces_pseudo_labels_and_refuses_other_catalogs(tmp_path: Path) -> None:
    import pandas as pd
    from typer.testing import CliRunner

    from crosspan.cli.main import app
    from crosspan.data.catalog import load_catalog

    rows = [("p0_T1", "", ""), ("p0_T2", "pl/p0_T2.nii.gz", "0.6"), ("p1_T1", "", "")]
    cat = pd.DataFrame([{"case_id": c, "patient_id": c[:2], "center": "A", "sequence": c[3:], "split": "",
                         "image": f"img/{c}.nii.gz", "label": f"lab/{c}.nii.gz", "pseudo_label": pl,
                         "pseudo_weight": w} for c, pl, w in rows])
    cat.to_csv(tmp_path / "catalog.csv", index=False)
    out = tmp_path / "bound.csv"
    res = CliRunner().invoke(app, ["ssl", "true-labels", str(tmp_path / "catalog.csv"), "-o", str(out)])
    assert res.exit_code == 0, res.output
    bound = load_catalog(out).set_index("case_id")
    assert bound.loc["p0_T2", "pseudo_label"] == "lab/p0_T2.nii.gz" and float(bound.loc["p0_T2", "pseudo_weight"]) == 1
    assert bound.loc["p1_T1", "pseudo_label"] == ""  # unpaired scans stay without a pseudo-label
    cat.drop(columns=["pseudo_label"]).to_csv(tmp_path / "plain.csv", index=False)
    res = CliRunner().invoke(app, ["ssl", "true-labels", str(tmp_path / "plain.csv"), "-o", str(tmp_path / "x.csv")])
    assert res.exit_code != 0 and "no pseudo_label column" in res.output and not (tmp_path / "x.csv").exists()


def test_data_catalog_domains_keeps_only_those_scans(tmp_path: Path) -> None:
    import pandas as pd
    from typer.testing import CliRunner

    from crosspan.cli.main import app

    run = CliRunner().invoke
    assert run(app, ["synth", "cohort", str(tmp_path / "c"), "-n", "1", "--shape", "small", "--centers", "A",
                     "--sequences", "T1,T2", "--workers", "1"]).exit_code == 0
    res = run(app, ["data", "catalog", str(tmp_path / "c"), "-o", str(tmp_path / "t2.csv"), "--domains", "*:T2",
                    "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert pd.read_csv(tmp_path / "t2.csv")["sequence"].tolist() == ["T2"]
    res = run(app, ["data", "catalog", str(tmp_path / "c"), "-o", str(tmp_path / "z.csv"), "--domains", "Z:T2"])
    assert res.exit_code != 0 and "no scan in the domains Z:T2" in res.output and not (tmp_path / "z.csv").exists()


def test_a_label_map_method_without_a_label_map_protocol_is_an_error(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, methods=[{"name": "physics-rand", "method": "physics-rand"}]))
    with pytest.raises(CrosspanError, match="runs on no protocol .*training_input: label-maps"):
        build_plan(spec)
