"""Protocols: patient-grouped (no leakage), deterministic, with the documented errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.core.errors import CrosspanError
from crosspan.data.protocols import ProtocolSpec, make_splits


def catalog(centers=("A", "B", "C"), sequences=("T1", "T2", "OOP"), patients=10) -> pd.DataFrame:
    rows = []
    for c in centers:
        for i in range(patients):
            for s in sequences:
                split = "train" if i < 6 else ("val" if i < 8 else "test")
                rows.append({"case_id": f"{c}_{i:04d}_{s}", "patient_id": f"{c}{i}", "center": c, "sequence": s,
                             "split": split, "image": "x", "label": "y"})
    return pd.DataFrame(rows)


def _patients(cat: pd.DataFrame, cases: list[str]) -> set[str]:
    return set(cat.set_index("case_id").loc[cases, "patient_id"]) if cases else set()


def _no_leak(cat: pd.DataFrame, split: dict) -> None:
    fit = _patients(cat, split["train"] + split["val"] + split["unlabeled"])
    assert not fit & _patients(cat, split["test"])


@pytest.mark.parametrize("protocol", ["in-domain", "cross-center", "cross-sequence", "official"])
def test_no_patient_leakage_and_determinism(protocol: str) -> None:
    cat = catalog()
    spec = ProtocolSpec(protocol=protocol, source=["A:T1", "B:T1"], seed=3)
    doc = make_splits(cat, spec)
    for s in doc["splits"]:
        _no_leak(cat, s)
        assert set(s["train_domains"]) <= {"A:T1", "B:T1"}
    assert make_splits(cat, spec) == doc
    other = make_splits(cat, ProtocolSpec(protocol=protocol, source=["A:T1", "B:T1"], seed=4))
    if protocol != "official":
        assert other["splits"][0]["train"] != doc["splits"][0]["train"]


def test_cross_center_tests_only_source_sequence_and_holds_out_other_centers() -> None:
    cat = catalog()
    doc = make_splits(cat, ProtocolSpec(protocol="cross-center", source=["A:T1", "B:T1"]))
    test = cat.set_index("case_id").loc[doc["splits"][0]["test"]]
    assert set(test["sequence"]) == {"T1"}
    assert (test["center"] == "C").sum() == 10  # every C patient is a test patient
    assert {"A", "B"} <= set(test["center"])  # held-out source patients give the in-domain reference


def test_cross_sequence_targets_other_sequences_at_source_centers() -> None:
    cat = catalog()
    doc = make_splits(cat, ProtocolSpec(protocol="cross-sequence", source=["A:T1", "B:T1"]))
    test = cat.set_index("case_id").loc[doc["splits"][0]["test"]]
    assert set(test["sequence"]) == {"T1", "T2", "OOP"}
    train = cat.set_index("case_id").loc[doc["splits"][0]["train"]]
    assert set(train["sequence"]) == {"T1"}


def test_in_domain_folds_partition_source_patients() -> None:
    cat = catalog()
    doc = make_splits(cat, ProtocolSpec(protocol="in-domain", source=["A:T1"], folds=5))
    assert len(doc["splits"]) == 5
    tested = [p for s in doc["splits"] for p in _patients(cat, s["test"])]
    assert sorted(tested) == sorted(f"A{i}" for i in range(10))


def test_leave_one_center_out() -> None:
    cat = catalog()
    doc = make_splits(cat, ProtocolSpec(protocol="cross-center", source=["T1"], leave_one_center_out=True))
    assert len(doc["splits"]) == 3
    held = [set("ABC") - {d.split(":")[0] for d in s["train_domains"]} for s in doc["splits"]]
    assert held == [{"A"}, {"B"}, {"C"}]


def test_label_ratios_move_the_rest_to_unlabeled() -> None:
    cat = catalog(patients=20)
    doc = make_splits(cat, ProtocolSpec(protocol="cross-sequence", source=["A:T1", "B:T1"],
                                        label_ratios=[0.1, 0.5, 1.0], unlabeled=["*:T2"]))
    by = {s["name"]: s for s in doc["splits"]}
    full = by["split0"]
    r10, r50 = by["split0-r10"], by["split0-r50"]
    assert len(r10["train"]) < len(r50["train"]) < len(full["train"])
    assert set(r10["train"]) | (set(r10["unlabeled"]) & set(full["train"])) == set(full["train"])
    assert any(c.endswith("_T2") for c in r10["unlabeled"])
    for s in doc["splits"]:
        _no_leak(cat, s)


def test_unknown_center_is_an_error_for_cross_center() -> None:
    cat = catalog()
    cat.loc[cat["center"] == "C", "center"] = "unknown"
    with pytest.raises(CrosspanError, match="unknown center"):
        make_splits(cat, ProtocolSpec(protocol="cross-center", source=["A:T1"]))


def test_empty_test_set_is_an_error() -> None:
    cat = catalog(centers=("A",), sequences=("T1",))
    with pytest.raises(CrosspanError, match="empty test set"):
        make_splits(cat, ProtocolSpec(protocol="official", source=["A:T1"], targets=["B:T1"]))


def test_splits_cli_writes_json_and_nnunet_splits(tmp_path: Path) -> None:
    cat = catalog()
    path = tmp_path / "cat.csv"
    cat.assign(shape_z=1).to_csv(path, index=False)
    out = tmp_path / "splits.json"
    res = CliRunner().invoke(app, ["data", "splits", str(path), "-p", "cross-sequence", "--train", "A:T1,B:T1",
                                   "--label-ratios", "25,100", "-o", str(out), "--nnunet-splits",
                                   str(tmp_path / "nn" / "splits_final.json")])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert [s["name"] for s in doc["splits"]] == ["split0-r25", "split0"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cat.csv", "nn", "splits.json"]  # nothing else beside
    nn = json.loads((tmp_path / "nn" / "splits_final.json").read_text())
    assert nn[1]["train"] == doc["splits"][1]["train"]
