"""Transfer type of a test domain relative to the training domains (in-domain, cross-center, cross-sequence,
cross-both), as used in PancreasDG-style cross-domain evaluation."""

from __future__ import annotations

from collections.abc import Iterable

TRANSFER_TYPES = ("in-domain", "cross-center", "cross-sequence", "cross-both", "unknown")
UNKNOWN_CENTERS = {"", "unknown", "nan", "none", "?"}


def parse_domain(domain: str) -> tuple[str, str]:
    """``"CENTER:SEQ"`` -> ``(center, seq)``; a bare ``"SEQ"`` means an unknown center."""
    center, sep, seq = domain.strip().rpartition(":")
    if not sep:
        return "unknown", domain.strip()
    return center.strip(), seq.strip()


def is_unknown(center: str | None) -> bool:
    return center is None or str(center).strip().lower() in UNKNOWN_CENTERS


def transfer_type(center: str, sequence: str, train_domains: Iterable[str]) -> str:
    """Classify the test domain ``(center, sequence)`` against ``train_domains`` (``"CENTER:SEQ"`` strings).

    - in-domain: the same (center, sequence) was trained on;
    - cross-center: the sequence was trained on, but not at this center (also when the center was trained on
      with another sequence: the sequence is seen, so only the center/sequence pairing is new);
    - cross-sequence: the center was trained on, but not with this sequence;
    - cross-both: neither the center nor the sequence was trained on;
    - unknown: no training domains, or an unknown center where the answer depends on it. With an unknown
      test or training center only the sequence can be judged: a sequence never trained on is cross-sequence
      (the center may differ too), otherwise the type is unknown.
    """
    train = {parse_domain(d) for d in train_domains if str(d).strip()}
    if not train:
        return "unknown"
    test_unknown = is_unknown(center)
    if not test_unknown and (center, sequence) in train:
        return "in-domain"
    centers = {c for c, _ in train}
    if sequence not in {s for _, s in train}:
        if test_unknown or center in centers or any(is_unknown(c) for c in centers):
            return "cross-sequence"  # at least: the center cannot be judged, or was trained on
        return "cross-both"
    if test_unknown or any(is_unknown(c) for c, s in train if s == sequence):
        return "unknown"  # same sequence, but whether the center differs cannot be told
    return "cross-center"
