"""A blinded adjudication work list: the flagged cases for a third person, recorded in ``key.csv``.

The adjudicator gets copies (not links, which would reveal the source path) of each flagged image under a fresh
opaque code, in a random order of their own, and optionally both candidate masks as ``<code>_1``/``<code>_2``
in a random order per case, so nobody can tell whose mask is whose. They return ``masks/<code>.nii.gz``;
``annotate consensus`` then takes that mask as the case's final label.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd

from crosspan.annotate.key import annotator_mask, annotators_of, load_key, save_key
from crosspan.core.atomic import atomic_dir
from crosspan.core.errors import CrosspanError
from crosspan.core.seeding import rng
from crosspan.data.dicom import salted_id


def load_agreement(assignment: Path, agreement: Path | None) -> pd.DataFrame:
    """The agreement table of ``annotate compare ASSIGNMENT_DIR`` (default ``ASSIGNMENT_DIR/agreement.csv``)."""
    path = Path(agreement) if agreement else Path(assignment) / "agreement.csv"
    if not path.is_file():
        raise CrosspanError(path, "agreement table does not exist",
                            f"run `crosspan annotate compare {assignment}` first")
    table = pd.read_csv(path, dtype={"code": str})
    if not {"code", "adjudicate"} <= set(table.columns):
        raise CrosspanError(path, "not an agreement table (needs code, adjudicate)",
                            f"write it with `crosspan annotate compare {assignment}`")
    table["adjudicate"] = table["adjudicate"].astype(str).str.lower().isin(["true", "1"])
    return table


def flagged_rows(key: pd.DataFrame, table: pd.DataFrame, adjudicator: str, assignment: Path) -> pd.DataFrame:
    """Key rows of the flagged cases; the adjudicator must be neither of a case's annotators."""
    codes = list(table.loc[table["adjudicate"], "code"])
    unknown = sorted(set(codes) - set(key["code"]))
    if unknown:
        raise CrosspanError(assignment / "key.csv", f"agreement table names code(s) not in the key: {unknown[:3]}",
                            "compare and adjudicate the same assignment folder")
    rows = key[key["code"].isin(codes)]
    own = [r["code"] for _, r in rows.iterrows() if adjudicator in annotators_of(r)]
    if own:
        raise CrosspanError(None, f"adjudicator '{adjudicator}' annotated {len(own)} of the {len(rows)} flagged "
                                  f"case(s) (e.g. {own[0]})", "choose a third person for --adjudicator")
    return rows


def _suffix(path: str) -> str:
    return ".nii.gz" if path.endswith(".nii.gz") else Path(path).suffix


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path.resolve())


def write_adjudication(assignment: Path, adjudicator: str, out: Path | None = None, agreement: Path | None = None,
                       candidates: bool = True, seed: int = 0) -> tuple[Path, int]:
    """Write ``out/{images/, candidates/, masks/, worklist.csv}`` and record it in the key; (folder, cases)."""
    assignment = Path(assignment)
    key = load_key(assignment)
    rows = flagged_rows(key, load_agreement(assignment, agreement), adjudicator, assignment)
    out = Path(out) if out else assignment / f"adjudication_{adjudicator}"
    if rows.empty:
        return out, 0
    if (out / "masks").is_dir() and any((out / "masks").iterdir()):
        raise CrosspanError(out, "already holds adjudicated masks", "pick another -o or move those masks away")
    codes = {c: "a" + salted_id(f"adjudicate:{adjudicator}:{seed}", c, length=10) for c in rows["code"]}
    order = rng(seed, "adjudicate", adjudicator).permutation(len(rows))
    with atomic_dir(out) as tmp:
        for sub in ("images", "masks") + (("candidates",) if candidates else ()):
            (tmp / sub).mkdir()
        with (tmp / "worklist.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["position", "code", "image", "candidate_1", "candidate_2", "mask_to_write"])
            for pos, i in enumerate(order, start=1):
                r = rows.iloc[i]
                w.writerow([pos, *_write_case(assignment, tmp, r, codes[r["code"]], candidates, seed)])
    key["adjudicator"] = key.get("adjudicator", "")
    key["adjudication_code"] = key.get("adjudication_code", "")
    key["adjudication_dir"] = key.get("adjudication_dir", "")
    sel = key["code"].isin(list(codes))
    key.loc[sel, "adjudicator"] = adjudicator
    key.loc[sel, "adjudication_code"] = key.loc[sel, "code"].map(codes)
    key.loc[sel, "adjudication_dir"] = _relative(out, assignment)
    save_key(assignment, key)
    return out, len(rows)


def _write_case(assignment: Path, tmp: Path, row: pd.Series, code: str, candidates: bool,
                seed: int) -> list[str]:
    """Copy one case's image (and candidate masks in a random order); its work-list cells."""
    image = str(row["image"])
    if not Path(image).is_file():
        raise CrosspanError(image, "image of a flagged case is missing", "restore it or fix the key's image path")
    img_name = f"images/{code}{_suffix(image)}"
    shutil.copyfile(image, tmp / img_name)
    cells = ["", ""]
    if candidates:
        masks = [annotator_mask(assignment, a, row["code"]) for a in annotators_of(row)]
        for slot, j in enumerate(rng(seed, "candidates", code).permutation(2)):
            src = masks[j]
            if src is not None:
                cells[slot] = f"candidates/{code}_{slot + 1}{_suffix(str(src))}"
                shutil.copyfile(src, tmp / cells[slot])
    return [code, img_name, *cells, f"masks/{code}.nii.gz"]
