"""Transfer type of a test domain against the training domains."""

from __future__ import annotations

import pytest

from crosspan.evaluation.transfer import parse_domain, transfer_type

TRAIN = ["A:T1", "B:T1"]


@pytest.mark.parametrize(("center", "seq", "train", "expected"), [
    ("A", "T1", TRAIN, "in-domain"),
    ("C", "T1", TRAIN, "cross-center"),
    ("A", "T2", TRAIN, "cross-sequence"),
    ("C", "T2", TRAIN, "cross-both"),
    ("A", "T2", ["A:T1", "C:T2"], "cross-center"),  # T2 seen (at C): no sequence shift, only (A, T2) unseen
    ("unknown", "T2", TRAIN, "cross-sequence"),  # sequence differs: at least cross-sequence
    ("unknown", "T1", TRAIN, "unknown"),  # same sequence, center cannot be judged
    ("A", "T1", ["unknown:T1"], "unknown"),
    ("A", "T1", ["T1"], "unknown"),  # a bare sequence means an unknown center
    ("A", "T1", ["A:T1", "unknown:T1"], "in-domain"),  # an exact match is certain
    ("C", "OOP", ["unknown:T1"], "cross-sequence"),
    ("A", "T1", [], "unknown"),
])
def test_transfer_type(center: str, seq: str, train: list[str], expected: str) -> None:
    assert transfer_type(center, seq, train) == expected


def test_parse_domain() -> None:
    assert parse_domain(" NYU:T2 ") == ("NYU", "T2")
    assert parse_domain("T1") == ("unknown", "T1")
