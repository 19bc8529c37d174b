"""plan.json as a typed document (Plan): old files load, the hash of the arrays' fields is unchanged, a bad
file is one line naming it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from crosspan.core.errors import CrosspanError
from crosspan.preprocess.plan import Plan, plan_hash

#: a plan.json as `crosspan preprocess` wrote it before Plan
PLAN = {"version": 1, "orientation": "LPS", "target_spacing": [2.0, 1.5, 1.5], "median_shape": [20.0, 40.0, 40.0],
        "normalization": {"scheme": "zscore", "mask": "body", "clip_percentiles": [0.5, 99.5]}, "crop": "body",
        "patch_size": [32, 48, 48], "patch_size_cpu": [16, 48, 48], "train_domains": ["A:T1"],
        "training_input": "images", "cases": {"train": ["a"], "val": ["b"], "test": ["c"], "unlabeled": []},
        "source": "/data/catalog.csv", "plan_hash": "0123456789abcdef"}


def _file(tmp_path: Path, doc: object) -> Path:
    (tmp_path / "plan.json").write_text(json.dumps(doc))
    return tmp_path


def test_plan_loads_and_round_trips(tmp_path: Path) -> None:
    plan = Plan.load(_file(tmp_path, PLAN))
    assert plan.default_patch("tiny") == [16, 48, 48] and plan.default_patch("nnunet") == [32, 48, 48]
    assert plan.cases.val == ["b"] and plan.normalization.clip == (0.5, 99.5)
    assert plan.to_json() == PLAN and list(plan.to_json()) == list(PLAN)
    assert Plan.load(tmp_path / "plan.json").to_json() == PLAN  # a plan.json path works too


def test_hash_is_the_one_before_the_typed_plan(tmp_path: Path) -> None:
    keys = {k: PLAN[k] for k in ("version", "orientation", "target_spacing", "normalization", "crop")}
    before = hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:16]
    assert plan_hash(Plan.load(_file(tmp_path, PLAN))) == before  # cached cases of existing plans stay valid
    nyul = {**PLAN, "normalization": {"scheme": "nyul", "mask": "body", "landmarks": {"scale": [0, 100]}}}
    assert plan_hash(Plan.load(_file(tmp_path, nyul))) != before
    assert Plan.load(tmp_path).to_json()["normalization"] == nyul["normalization"]  # no clip_percentiles: null


@pytest.mark.parametrize(("doc", "words"), [
    ({k: v for k, v in PLAN.items() if k != "patch_size_cpu"}, "patch_size_cpu: Field required"),
    ({**PLAN, "target_spacing": [1.0, 0.0, 1.0]}, "spacings must be > 0"),
    ({**PLAN, "normalization": {"scheme": "minmax"}}, "normalization.scheme"),
    ({**PLAN, "cases": {"train": "a"}}, "cases.train"),
])
def test_bad_plan_is_one_line(tmp_path: Path, doc: object, words: str) -> None:
    folder = _file(tmp_path, doc)
    with pytest.raises(CrosspanError) as err:
        Plan.load(folder)
    text = str(err.value)
    assert str(folder / "plan.json") in text and words in text and "crosspan preprocess" in text
    assert "\n" not in text


def test_missing_plan(tmp_path: Path) -> None:
    with pytest.raises(CrosspanError, match="no plan.json here"):
        Plan.load(tmp_path)
