"""Bootstrap weights that respect the data hierarchy: patients, or centers -> patients -> scans.

A bootstrap replicate is a vector of case weights (how often each case was drawn), so a statistic of a draw is a
weighted mean: ``w @ values / w.sum()``. Two schemes:

- ``patient``: the cluster bootstrap of Davison & Hinkley (1997, sec. 3.8): patients drawn with replacement, all
  their scans kept. Scans of one patient are correlated, so they are not independent draws.
- ``hierarchical``: the multi-stage bootstrap (Davison & Hinkley 1997, sec. 3.8; Field & Welsh, JRSS-B 2007):
  centers drawn with replacement, then patients within each drawn center, then scans within each drawn patient.
  When centers differ (scanner, population), this carries the between-center spread into the interval, as
  Metrics Reloaded (Maier-Hein et al., Nat. Methods 2024) asks of aggregation over hierarchical data.

``auto`` picks ``hierarchical`` where the cases span at least :data:`MIN_CENTERS` centers, else ``patient``:
with one or two centers a center draw has too few clusters to say anything about between-center spread.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crosspan.core.errors import CrosspanError
from crosspan.core.seeding import rng

MODES = ("auto", "patient", "hierarchical")
#: ``auto`` resamples centers from this many centers on.
MIN_CENTERS = 3


def resolve_mode(mode: str, centers: np.ndarray) -> str:
    """``patient`` or ``hierarchical`` for these cases (``auto``: hierarchical from :data:`MIN_CENTERS` centers)."""
    if mode not in MODES:
        raise CrosspanError(None, f"unknown bootstrap {mode!r}", f"use one of {', '.join(MODES)}")
    if mode == "auto":
        return "hierarchical" if len(np.unique(np.asarray(centers))) >= MIN_CENTERS else "patient"
    return mode


def patient_weights(patients: np.ndarray, n_boot: int, gen: np.random.Generator) -> np.ndarray:
    """``(n_boot, n_cases)`` case weights of a patient (cluster) bootstrap."""
    _, inverse = np.unique(np.asarray(patients), return_inverse=True)
    n_pat = int(inverse.max()) + 1 if inverse.size else 0
    idx = gen.integers(0, n_pat, size=(n_boot, n_pat))
    counts = np.zeros((n_boot, n_pat))
    np.add.at(counts, (np.repeat(np.arange(n_boot), n_pat), idx.ravel()), 1.0)
    return counts[:, inverse]


def hierarchical_weights(centers: np.ndarray, patients: np.ndarray, n_boot: int,
                         gen: np.random.Generator) -> np.ndarray:
    """``(n_boot, n_cases)`` case weights of a center -> patient -> scan bootstrap.

    Patients are keyed by (center, patient), so a patient id reused by two centers stays two patients.
    """
    centers, patients = np.asarray(centers).astype(str), np.asarray(patients).astype(str)
    n = len(centers)
    _, pat = np.unique(np.char.add(np.char.add(centers, "\x1f"), patients), return_inverse=True)
    order = np.argsort(pat, kind="stable")  # cases grouped by patient
    size = np.bincount(pat).astype(int)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    _, cen_of_case = np.unique(centers, return_inverse=True)
    cen_of_pat = np.zeros(len(size), dtype=int)
    cen_of_pat[pat] = cen_of_case
    pats_of = [np.flatnonzero(cen_of_pat == c) for c in range(int(cen_of_pat.max()) + 1)]
    out = np.zeros((n_boot, n))
    for b in range(n_boot):
        drawn = gen.integers(0, len(pats_of), size=len(pats_of))
        chosen = np.concatenate([pats_of[c][gen.integers(0, len(pats_of[c]), size=len(pats_of[c]))] for c in drawn])
        k = size[chosen]
        offsets = np.repeat(start[chosen], k) + np.floor(gen.random(int(k.sum())) * np.repeat(k, k)).astype(int)
        out[b] = np.bincount(order[offsets], minlength=n)
    return out


def bootstrap_weights(mode: str, centers: np.ndarray, patients: np.ndarray, n_boot: int,
                      seed: int | Sequence[object] = 0) -> tuple[np.ndarray, str]:
    """Case weights of ``n_boot`` draws and the scheme used (``mode`` resolved by :func:`resolve_mode`)."""
    used = resolve_mode(mode, centers)
    gen = rng("bootstrap-weights", used, *(seed if isinstance(seed, (list, tuple)) else [seed]))
    if used == "hierarchical":
        return hierarchical_weights(centers, patients, n_boot, gen), used
    return patient_weights(patients, n_boot, gen), used


def weighted_ci(values: np.ndarray, weights: np.ndarray, alpha: float = 0.05) -> tuple[float, float, np.ndarray]:
    """Percentile CI of the mean from case weights (NaN values dropped); returns ``(low, high, replicates)``."""
    values = np.asarray(values, dtype=float)
    keep = np.isfinite(values)
    w = weights[:, keep]
    total = w.sum(axis=1)
    ok = total > 0
    if not keep.any() or not ok.any():
        return float("nan"), float("nan"), np.empty(0)
    reps = (w[ok] @ values[keep]) / total[ok]
    low, high = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high), reps


def hierarchical_bootstrap(values: np.ndarray, centers: np.ndarray, patients: np.ndarray, n_boot: int = 2000,
                           seed: int | Sequence[object] = 0,
                           alpha: float = 0.05) -> tuple[float, float, np.ndarray]:
    """Percentile CI of the mean, resampling centers, then patients, then scans (see module)."""
    gen = rng("hierarchical-bootstrap", *(seed if isinstance(seed, (list, tuple)) else [seed]))
    return weighted_ci(values, hierarchical_weights(centers, patients, n_boot, gen), alpha)
