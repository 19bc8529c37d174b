"""The splits JSON as a typed document: one fold() rule for every reader, files round-trip unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crosspan.core.errors import CrosspanError
from crosspan.data.splits import Splits

DOC = {"protocol": "in-domain", "seed": 0, "params": {"source": ["A:T1"], "folds": 2},
       "splits": [{"name": "fold0", "train": ["a", "b"], "val": [], "test": ["c"], "unlabeled": [],
                   "train_domains": ["A:T1"], "label_ratio": 1.0},
                  {"name": "fold1", "train": ["c", "b"], "val": [], "test": ["a"], "unlabeled": ["d"],
                   "train_domains": ["A:T1"], "label_ratio": 1.0, "training_input": "label-maps"}]}


def _file(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "splits.json"
    path.write_text(json.dumps(doc))
    return path


def test_fold_by_index_or_name(tmp_path: Path) -> None:
    doc = Splits.load(_file(tmp_path, DOC))
    assert doc.fold(1).test == ["a"] and doc.fold("1").test == ["a"] and doc.fold("fold1").test == ["a"]
    assert doc.fold(0).name == "fold0" and doc.index("fold1") == 1
    assert doc.fold(1).training_input == "label-maps" and doc.fold(0).training_input is None
    with pytest.raises(CrosspanError, match="fold 2 not in the splits file") as err:
        doc.fold(2)
    assert "splits.json" in str(err.value) and "fold0, fold1" in str(err.value)
    with pytest.raises(CrosspanError, match="split 'nope' not in the splits file"):
        doc.fold("nope")
    with pytest.raises(CrosspanError, match="2 folds"):
        doc.fold(None)  # several folds and no choice: ask for one
    single = Splits.parse({**DOC, "splits": DOC["splits"][:1]})
    assert single.fold(None).name == "fold0"


def test_round_trip_is_unchanged(tmp_path: Path) -> None:
    doc = Splits.load(_file(tmp_path, DOC))
    assert doc.to_json() == DOC and list(doc.to_json()["splits"][0]) == list(DOC["splits"][0])
    cut = doc.with_fold(1, doc.fold(1).model_copy(update={"unlabeled": []}))
    assert cut.to_json()["splits"][1]["unlabeled"] == [] and doc.fold(1).unlabeled == ["d"]


@pytest.mark.parametrize(("doc", "words"), [
    ({"protocol": "in-domain"}, "splits: Field required"),
    ({"splits": [{"name": "x", "train": "a,b"}]}, "splits.0.train"),
    ({"splits": [{"name": "x", "training_input": "pixels"}]}, "training_input"),
])
def test_bad_splits_file_is_one_line(tmp_path: Path, doc: object, words: str) -> None:
    path = _file(tmp_path, doc)
    with pytest.raises(CrosspanError) as err:
        Splits.load(path)
    text = str(err.value)
    assert str(path) in text and words in text and "crosspan data splits" in text and "\n" not in text


def test_numeric_case_ids_read_as_text(tmp_path: Path) -> None:
    doc = Splits.parse({"splits": [{"name": "x", "train": [7, "b"], "test": [8]}]})
    assert doc.fold(0).train == ["7", "b"] and doc.fold(0).test == ["8"]
