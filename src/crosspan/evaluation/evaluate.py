"""Score a folder of predicted masks against a catalog's labels: one tidy row per case.

Predictions are matched by case ID (``<case_id>.nii.gz``, ``.nii``, ``.nrrd``, ``.mha``) or by the label's file
name (nnU-Net style, ``<case>.nii.gz``; with the CrossPan layout inside a folder named after the sequence).
Every prediction is checked (readable, binary, on the label's grid) and all problems are collected before any
output is written: the caller gets either a complete table or an :class:`EvaluationErrors` listing each problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk

from crosspan.core.errors import CrosspanError, Problem
from crosspan.core.parallel import pmap
from crosspan.data.io import (
    ImageProperties,
    geometry_differences,
    is_image_file,
    read_image,
    strip_image_suffix,
    to_sitk,
)
from crosspan.data.splits import FOLD_LISTS, Splits
from crosspan.evaluation.metrics import COUNTS, FLAGS, METRICS, compute_metrics
from crosspan.evaluation.transfer import transfer_type

COLUMNS = ["case_id", "patient_id", "center", "sequence", "method", "run", "seed", "train_domains", "transfer",
           *METRICS, "tolerance_mm", *COUNTS, *FLAGS, "pred_missing", "oracle"]
RESAMPLE_FIX = ("re-export the prediction on the label's grid, or pass --resample-pred to resample it onto the "
                "label grid (nearest neighbour)")


class EvaluationErrors(CrosspanError):
    """Several problems found while checking predictions; ``problems`` holds one :class:`Problem` per issue."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(None, f"{len(problems)} problem(s) with the predictions; nothing was written",
                         "fix the files listed above and run again")


@dataclass(frozen=True)
class CaseJob:
    case_id: str
    label: str
    pred: str | None
    tolerance_mm: float
    resample: bool
    pred_label: int | None


def index_predictions(pred_dir: Path) -> dict[str, list[Path]]:
    """All image files under ``pred_dir`` (recursively), keyed by their name without the image suffix."""
    if not pred_dir.is_dir():
        raise CrosspanError(pred_dir, "prediction folder does not exist", "pass the folder of predicted masks")
    index: dict[str, list[Path]] = {}
    for p in sorted(pred_dir.rglob("*")):
        if p.is_file() and is_image_file(p):
            index.setdefault(strip_image_suffix(p.name), []).append(p)
    return index


def match_prediction(index: dict[str, list[Path]], pred_dir: Path, case_id: str, label: str, sequence: str,
                     sequences: frozenset[str] | set[str] = frozenset()) -> tuple[Path | None, Problem | None]:
    """The prediction of one case: by case ID, else by the label's file name. A match by label name inside a
    folder named after another sequence (of ``sequences``) is rejected; one inside ``sequence`` is preferred."""
    for key, by_label in ((case_id, False), (strip_image_suffix(Path(label).name), True)):
        found = index.get(key, [])
        if by_label:
            folders = [set(p.relative_to(pred_dir).parts[:-1]) for p in found]
            found = [p for p, f in zip(found, folders, strict=True) if not (f & (set(sequences) - {sequence}))]
            in_seq = [p for p in found if sequence in p.relative_to(pred_dir).parts[:-1]]
            found = in_seq or found
        if len(found) == 1:
            return found[0], None
        if len(found) > 1:
            names = ", ".join(str(p.relative_to(pred_dir)) for p in found[:4])
            return None, Problem(str(pred_dir), f"several predictions match case {case_id} ({names})",
                                 "keep one file per case")
    return None, None


def shared_predictions(matches: dict[str, Path]) -> list[Problem]:
    """Problems for files matched by more than one case (same file name in several sequences)."""
    users: dict[Path, list[str]] = {}
    for cid, path in matches.items():
        users.setdefault(path, []).append(cid)
    return [Problem(str(path), f"one prediction matches several cases ({', '.join(sorted(c)[:4])})",
                    "name predictions <case_id>.nii.gz, or put them in per-sequence folders (PRED/T1/<case>.nii.gz)")
            for path, c in users.items() if len(c) > 1]


def _resample_onto(pred: np.ndarray, pprops: ImageProperties, gt: np.ndarray, lprops: ImageProperties) -> np.ndarray:
    """Nearest-neighbour resampling of a mask onto the label's grid (physical space, via SimpleITK)."""
    moving, ref = to_sitk(pred.astype(np.uint8), pprops), to_sitk(gt.astype(np.uint8), lprops)
    out = sitk.Resample(moving, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    return sitk.GetArrayFromImage(out).astype(bool)


def _describe(diffs: list[str], a: ImageProperties, b: ImageProperties) -> str:
    parts = []
    for d in diffs:
        fmt = (lambda v: tuple(round(float(x), 4) for x in v)) if d != "shape" else tuple
        parts.append(f"{d} {fmt(getattr(a, d))} vs label {fmt(getattr(b, d))}")
    return "; ".join(parts)


def _binary(arr: np.ndarray, path: str, pred_label: int | None) -> np.ndarray | Problem:
    """The prediction as a boolean mask, or why it is not one."""
    if pred_label is not None:
        return arr == pred_label
    ok = (arr == 0) | (arr == 1)
    if ok.all():
        return arr.astype(bool)
    bad = np.unique(arr[~ok])
    shown = ", ".join(f"{v:g}" for v in bad[:5]) + (", ..." if bad.size > 5 else "")
    return Problem(path, f"prediction is not binary (values other than 0/1: {shown})",
                         "threshold probabilities (p >= 0.5 -> 1) or map the pancreas label to 1; for a multi-label "
                         "map pass --pred-label N")


def score_case(job: CaseJob) -> dict[str, Any] | Problem:
    """Metrics of one case, or the :class:`Problem` that prevents scoring it."""
    try:
        label, lprops = read_image(job.label)
        gt = label > 0
        if job.pred is None:
            return compute_metrics(np.zeros_like(gt), gt, lprops.spacing, job.tolerance_mm)
        arr, pprops = read_image(job.pred)
    except CrosspanError as err:
        return Problem(err.path, err.problem, err.fix)
    pred = _binary(arr, job.pred, job.pred_label)
    if isinstance(pred, Problem):
        return pred
    if len(pprops.shape) != len(lprops.shape):
        return Problem(job.pred, f"prediction has {len(pprops.shape)} dimensions, its label {len(lprops.shape)}",
                       "write the prediction as a 3D mask (drop channel/time axes)")
    diffs = geometry_differences(pprops, lprops)
    if diffs and not job.resample:
        return Problem(job.pred, f"prediction geometry differs from its label {job.label} "
                                 f"({_describe(diffs, pprops, lprops)})", RESAMPLE_FIX)
    if diffs:
        pred = _resample_onto(pred, pprops, gt, lprops)
    return compute_metrics(pred, gt, lprops.spacing, job.tolerance_mm)


def _resolve(path: str, base: Path | None) -> str:
    p = Path(path)
    if not p.is_absolute() and not p.exists() and base is not None and (base / p).exists():
        return str(base / p)
    return str(p)


def select_cases(catalog: pd.DataFrame, cases: str, fold_ids: list[str] | None) -> pd.DataFrame:
    """Rows to score: ``all`` labelled rows, else the fold's ``cases`` list (``fold_ids``, given a splits file) or
    the catalog's rows whose ``split`` is ``cases`` (test, val, train)."""
    if cases not in (*FOLD_LISTS, "all"):
        raise CrosspanError(None, f"unknown --cases value {cases!r}", f"use --cases {', '.join(FOLD_LISTS)} or all")
    has_label = catalog["label"].astype(str).str.len() > 0
    if cases == "all":
        return catalog[has_label]
    if fold_ids is not None:
        unknown = sorted(set(fold_ids) - set(catalog["case_id"]))
        if unknown:
            shown = ", ".join(unknown[:5])
            raise CrosspanError(None, f"splits name {len(unknown)} case(s) not in the catalog ({shown})",
                                "use the catalog the splits were made from")
        return catalog[catalog["case_id"].isin(fold_ids)]
    rows = catalog[catalog["split"].astype(str).str.lower() == cases]
    if rows.empty:
        raise CrosspanError(None, f"the catalog has no {cases} cases (split column)",
                            "pass --splits SPLITS.json, or --cases all to score every labelled case")
    return rows


def evaluate_predictions(catalog: pd.DataFrame, pred_dir: str | Path, method: str, *, run: str = "",
                         seed: int | None = None, train_domains: list[str] | None = None,
                         splits: str | Path | None = None, fold: str | None = None, cases: str = "test",
                         resample_pred: bool = False, tolerance_mm: float = 2.0, allow_missing: bool = False,
                         oracle: bool = False, pred_label: int | None = None, workers: int | None = None,
                         progress: bool = True, base: Path | None = None) -> pd.DataFrame:
    """Score every selected case of ``catalog`` against its prediction in ``pred_dir``; see module docstring.

    ``train_domains`` (``"CENTER:SEQ"``) or a ``splits`` file give each row's transfer type. Raises
    :class:`EvaluationErrors` listing every missing, unreadable, non-binary or mis-gridded prediction.
    """
    pred_dir = Path(pred_dir)
    fold_ids = None
    if splits is not None:
        f = Splits.load(splits).fold(fold)  # by name or index; the only fold by default
        fold_ids = f.cases(cases) if cases != "all" else None
        train_domains = train_domains or list(f.train_domains)
    rows = select_cases(catalog, cases, fold_ids)
    no_label = rows[rows["label"].astype(str).str.len() == 0]
    problems = [Problem(str(cid), "test case has no label to score against", "add its label or drop the case")
                for cid in no_label["case_id"]]
    rows = rows[rows["label"].astype(str).str.len() > 0]
    index = index_predictions(pred_dir)
    jobs, missing, matches = [], [], {}
    sequences = {str(s) for s in catalog["sequence"]}
    for r in rows.itertuples(index=False):
        path, problem = match_prediction(index, pred_dir, str(r.case_id), str(r.label), str(r.sequence), sequences)
        if problem is not None:
            problems.append(problem)
        elif path is None:
            missing.append(str(r.case_id))
        else:
            matches[str(r.case_id)] = path
        jobs.append(CaseJob(str(r.case_id), _resolve(str(r.label), base), str(path) if path else None,
                            float(tolerance_mm), resample_pred, pred_label))
    problems += shared_predictions(matches)
    if missing and not allow_missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        problems.append(Problem(str(pred_dir), f"no prediction for {len(missing)} case(s): {shown}",
                                "add <case_id>.nii.gz for each, or pass --allow-missing to score them as empty"))
    # score (or check) every case that has a prediction before reporting, so that all problems come out at once
    todo = [j for j in jobs if j.pred is not None or allow_missing]
    done = pmap(score_case, todo, workers=workers, description="scoring", progress=progress)
    problems += [r for r in done if isinstance(r, Problem)]
    if problems:
        raise EvaluationErrors(problems)
    results = [r for r in done if not isinstance(r, Problem)]  # all of them: problems were raised above
    domains = list(train_domains or [])
    out = []
    for r, job, m in zip(rows.itertuples(index=False), jobs, results, strict=True):
        row = {"case_id": r.case_id, "patient_id": r.patient_id, "center": r.center, "sequence": r.sequence,
               "method": method, "run": run, "seed": seed, "train_domains": ",".join(domains),
               "transfer": transfer_type(str(r.center), str(r.sequence), domains), "tolerance_mm": tolerance_mm,
               "pred_missing": job.pred is None, "oracle": oracle}
        row.update(m)
        out.append(row)
    return pd.DataFrame(out, columns=COLUMNS)


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Mean Dice (and n) per domain and transfer type."""
    g = df.groupby(["center", "sequence", "transfer"], dropna=False)["dice"]
    return g.agg(n="count", mean_dice="mean").reset_index()


def score_paths(pred: str | Path, label: str | Path, tolerance_mm: float = 2.0,
                resample: bool = False) -> dict[str, Any]:
    """Metrics of one prediction file against one label file (raises CrosspanError on a bad prediction)."""
    res = score_case(CaseJob("case", str(label), str(pred), tolerance_mm, resample, None))
    if isinstance(res, Problem):
        raise CrosspanError(res.path, res.problem, res.fix)
    return res


__all__ = ["COLUMNS", "EvaluationErrors", "evaluate_predictions", "score_case", "score_paths", "summary"]
