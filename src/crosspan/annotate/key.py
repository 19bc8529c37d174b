"""The coordinator's ``key.csv`` of an assignment folder: loading it, finding each annotator's returned mask."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crosspan.core.atomic import atomic_path
from crosspan.core.errors import CrosspanError

KEY_COLUMNS = ("code", "case_id", "center", "sequence", "annotator_1", "annotator_2")
MASK_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha")


def is_assignment_dir(path: Path) -> bool:
    """A folder written by ``annotate assign`` (it holds ``key.csv``)."""
    return Path(path).is_dir() and (Path(path) / "key.csv").is_file()


def load_key(assignment: Path) -> pd.DataFrame:
    """``assignment/key.csv`` as strings, with its columns checked."""
    path = Path(assignment) / "key.csv"
    if not path.is_file():
        raise CrosspanError(assignment, "no key.csv: not an assignment folder",
                            "pass the folder written by `crosspan annotate assign`")
    key = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in KEY_COLUMNS if c not in key.columns]
    if missing:
        raise CrosspanError(path, f"not an assignment key (missing {', '.join(missing)})",
                            "rewrite it with `crosspan annotate assign`")
    return key


def save_key(assignment: Path, key: pd.DataFrame) -> None:
    with atomic_path(Path(assignment) / "key.csv") as tmp:
        key.to_csv(tmp, index=False)


def find_mask(folder: Path, code: str) -> Path | None:
    """``folder/<code>.<suffix>`` for the first mask suffix present, else None."""
    for suffix in MASK_SUFFIXES:
        p = Path(folder) / f"{code}{suffix}"
        if p.is_file():
            return p
    return None


def annotator_mask(assignment: Path, annotator: str, code: str) -> Path | None:
    """The mask an annotator returned for a code (``assignment/<annotator>/masks/<code>.nii.gz``)."""
    return find_mask(Path(assignment) / annotator / "masks", code)


def adjudicated_mask(assignment: Path, row: pd.Series) -> Path | None:
    """The adjudicator's returned mask for a key row, when the case went to adjudication and came back."""
    folder, code = str(row.get("adjudication_dir", "") or ""), str(row.get("adjudication_code", "") or "")
    if not folder or not code:
        return None
    base = Path(folder) if Path(folder).is_absolute() else Path(assignment) / folder
    return find_mask(base / "masks", code)


def annotators_of(row: pd.Series) -> list[str]:
    return [str(row["annotator_1"]), str(row["annotator_2"])]
