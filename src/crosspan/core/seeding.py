"""Seeds: every random choice flows from one seed; derived seeds come from hashing names (as DomainBed does)."""

from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(*parts: object) -> int:
    """A stable 31-bit seed from any sequence of names and numbers (independent of PYTHONHASHSEED)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


def rng(*parts: object) -> np.random.Generator:
    """A numpy Generator seeded by :func:`derive_seed` of ``parts``."""
    return np.random.default_rng(derive_seed(*parts))
