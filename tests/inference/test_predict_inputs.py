"""`crosspan predict --splits S --fold K` predicts the test cases of split K (what the benchmark runner passes), or
the list ``--cases`` names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import data_builders as db
from crosspan.core.errors import CrosspanError
from crosspan.data.catalog import build_catalog, save_catalog
from crosspan.data.protocols import ProtocolSpec, make_splits
from crosspan.inference.predict import collect_inputs


def release_with_splits(tmp_path: Path, per_center: int, **protocol: Any) -> tuple[Path, Any, dict, Path]:
    """A one-domain (A:T1) release, its catalog, an in-domain splits document and the JSON file holding it."""
    root = db.crosspan_release(tmp_path / "ds", centers=("A",), sequences=("T1",), per_center=per_center)
    cat, _ = build_catalog(root, workers=1, progress=False)
    doc = make_splits(cat, ProtocolSpec(protocol="in-domain", source=["A:T1"], **protocol))
    splits = tmp_path / "splits.json"
    splits.write_text(json.dumps(doc))
    return root, cat, doc, splits


def test_fold_selects_that_splits_test_cases(tmp_path: Path) -> None:
    _, cat, doc, splits = release_with_splits(tmp_path, 4, folds=2)
    cat_path = tmp_path / "catalog.csv"
    save_catalog(cat, cat_path)
    for k in (0, 1):
        got = sorted(c for c, _ in collect_inputs(cat_path, splits=splits, fold=k))
        assert got == sorted(doc["splits"][k]["test"])
    assert collect_inputs(cat_path, splits=splits, fold=0) != collect_inputs(cat_path, splits=splits, fold=1)
    with pytest.raises(CrosspanError, match="fold 2 not in the splits file"):
        collect_inputs(cat_path, splits=splits, fold=2)


def test_a_fold_by_name_or_index_as_evaluate_takes_it(tmp_path: Path) -> None:
    root, _, doc, splits = release_with_splits(tmp_path, 4, folds=2)
    by_name = collect_inputs(root, splits=splits, fold="fold1")
    assert by_name == collect_inputs(root, splits=splits, fold="1") == collect_inputs(root, splits=splits, fold=1)
    assert sorted(c for c, _ in by_name) == sorted(doc["splits"][1]["test"])


def test_cases_picks_that_list_of_the_fold_never_the_test_cases(tmp_path: Path) -> None:
    """Asking for the validation cases (model selection) must never hand back the test cases."""
    from crosspan.evaluation.evaluate import select_cases

    root, cat, doc, splits = release_with_splits(tmp_path, 8, val_fraction=0.25)
    fold = doc["splits"][0]
    assert fold["val"] and fold["test"]
    for which in ("val", "train", "test"):
        assert sorted(c for c, _ in collect_inputs(root, which, splits)) == sorted(fold[which])
        assert sorted(select_cases(cat, which, fold[which])["case_id"]) == sorted(fold[which])
    every = fold["train"] + fold["val"] + fold["test"]
    assert sorted(c for c, _ in collect_inputs(root, "all", splits)) == sorted(every)
    with pytest.raises(CrosspanError, match="unknown case list 'validation'"):
        collect_inputs(root, "validation", splits)
