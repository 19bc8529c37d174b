"""Domains: a domain is (center, sequence), written ``CENTER:SEQUENCE``; patterns may use ``*`` for either part."""

from __future__ import annotations

import fnmatch

import pandas as pd

from crosspan.core.errors import CrosspanError
from crosspan.data.layouts.base import canonical_sequence


def domain_of(center: str, sequence: str) -> str:
    return f"{center}:{sequence}"


def parse_domain_pattern(text: str) -> tuple[str, str]:
    """``"A:T1"`` -> (A, T1); ``"T1"`` -> (*, T1); ``"A:*"`` -> (A, *)."""
    text = text.strip()
    if ":" in text:
        center, seq = text.split(":", 1)
    else:
        center, seq = "*", text
    if not center or not seq:
        raise CrosspanError(None, f"bad domain '{text}'", "write CENTER:SEQUENCE, e.g. A:T1, or a sequence like T1")
    return center, (seq if seq == "*" else canonical_sequence(seq))


def domain_mask(catalog: pd.DataFrame, patterns: list[str]) -> pd.Series:
    """Rows of ``catalog`` whose (center, sequence) matches any of ``patterns``."""
    mask = pd.Series(False, index=catalog.index)
    for pat in patterns:
        c, s = parse_domain_pattern(pat)
        mask |= catalog["center"].map(lambda v, c=c: fnmatch.fnmatchcase(str(v), c)) & catalog["sequence"].map(
            lambda v, s=s: fnmatch.fnmatchcase(str(v), s))
    return mask


def domains_in(catalog: pd.DataFrame) -> list[str]:
    return sorted({domain_of(c, s) for c, s in zip(catalog["center"], catalog["sequence"], strict=True)})
