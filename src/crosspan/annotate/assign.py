"""Blinded, balanced assignment of every case to two annotators.

Each annotator gets a folder with links to the images renamed by an opaque code (no case ID, patient, center or
sequence in any name) in a random order of their own, and a work list. The coordinator keeps ``key.csv``
(code -> case), which annotators never see. Annotators return masks named ``<code>.nii.gz``.
"""

from __future__ import annotations

import csv
import itertools
import os
from pathlib import Path

import pandas as pd

from crosspan.core.atomic import atomic_dir
from crosspan.core.errors import CrosspanError
from crosspan.core.seeding import rng
from crosspan.data.dicom import salted_id


def pair_schedule(annotators: list[str], n_cases: int, seed: int) -> list[tuple[str, str]]:
    """Pairs of distinct annotators, cycling through all pairs so each annotator gets a balanced load."""
    if len(annotators) < 2 or len(set(annotators)) != len(annotators):
        raise CrosspanError(None, "need at least two distinct annotators", "pass --annotators alice,bob[,carol...]")
    pairs = list(itertools.combinations(sorted(annotators), 2))
    order = rng(seed, "pairs").permutation(len(pairs))
    pairs = [pairs[i] for i in order]
    return [pairs[i % len(pairs)] for i in range(n_cases)]


def _resolved(path: object) -> str:
    """An absolute path (the key is read later from any folder), or "" for no path."""
    return str(Path(str(path)).resolve()) if isinstance(path, str | Path) and str(path) else ""


def assign_cases(catalog: pd.DataFrame, annotators: list[str], out: Path, seed: int = 0,
                 salt: str = "crosspan") -> Path:
    """Write ``out/<annotator>/{images/, worklist.csv}`` and ``out/key.csv``; returns the key path."""
    cases = catalog.sort_values("case_id").reset_index(drop=True)
    if cases.empty:
        raise CrosspanError(None, "the catalog has no case", "build it with `crosspan data catalog`")
    schedule = pair_schedule(annotators, len(cases), seed)
    per: dict[str, list[tuple[str, str]]] = {a: [] for a in annotators}
    key_rows = []
    for row, pair in zip(cases.itertuples(), schedule, strict=True):
        code = "c" + salted_id(f"{salt}:{seed}", row.case_id, length=10)
        key_rows.append({"code": code, "case_id": row.case_id, "patient_id": row.patient_id, "center": row.center,
                         "sequence": row.sequence, "annotator_1": pair[0], "annotator_2": pair[1],
                         "image": str(Path(row.image).resolve()), "label": _resolved(getattr(row, "label", ""))})
        for a in pair:
            per[a].append((code, str(row.image)))
    with atomic_dir(out) as tmp:
        for a, items in per.items():
            order = rng(seed, "order", a).permutation(len(items))
            folder = tmp / a
            (folder / "images").mkdir(parents=True)
            (folder / "masks").mkdir()
            with (folder / "worklist.csv").open("w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["position", "code", "image", "mask_to_write"])
                for pos, i in enumerate(order, start=1):
                    code, image = items[i]
                    suffix = ".nii.gz" if image.endswith(".nii.gz") else Path(image).suffix
                    os.symlink(Path(image).resolve(), folder / "images" / f"{code}{suffix}")
                    w.writerow([pos, code, f"images/{code}{suffix}", f"masks/{code}.nii.gz"])
        pd.DataFrame(key_rows).to_csv(tmp / "key.csv", index=False)
    return out / "key.csv"
