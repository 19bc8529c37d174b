"""`crosspan ssl pair` as a function: transported source labels as pseudo-labels for the unlabeled scans of a fold.

For each unlabeled scan of the fold whose patient has a labeled training scan (the source, e.g. T1), the source
image is registered rigidly onto the unlabeled (target) scan by Mattes mutual information (``register_rigid``) and
the source label is resampled onto the target grid (``transport_label``). The target's own label is never read.

Which transport (``transport``), and its weight (computable without target labels):

- ``local`` (the default since issue #17's third pass; :mod:`crosspan.preprocess.pairing.local`): the source label
  in the scanner frame (scans of one session share the patient coordinates) gives a box; the source image is fitted
  rigidly to that box of the target only, from the scanner frame, then each target slice takes its own best
  translation (single-shot 2D HASTE slices are each at their own breathing position). Weight: the Dice of the
  result with the scanner-frame label, 0 below ``min_agreement`` (the fit ran away). On the stress suite's 24 pairs:
  T2 12 / 12 accepted at pseudo-label Dice 0.889 (``consensus``: 11 / 12 at 0.778), OOP 12 / 12 at 0.918 (0.908);
  docs/ssl.md.
- ``consensus`` (the earlier default; :func:`consensus`): the registration is run twice over the whole field of
  view, target <- source and source <- target (inverted), and the scanner frame is the third candidate; the
  candidate that agrees best on average (Dice) with the other two is kept, weighted by its best agreement with
  another (0 below ``min_agreement``). It outvotes a registration caught in a local optimum in one direction (the
  backward T1 <- 8 mm T2 fit slid by ~100 mm along z on some stress patients).

Unpaired unlabeled scans get an all-zero map with weight 0 (the engine needs a map for every unlabeled scan).

Outputs under OUT: ``labels/<case>.nii.gz`` (on the target's grid), ``pairs/<case>.json`` (source, metrics,
weight; written last, marks the case done: reruns skip it), ``pairs.csv`` and ``catalog.csv`` = the input catalog
with ``pseudo_label`` and ``pseudo_weight`` columns (empty for the other rows), and ``splits_paired.json`` = the
splits with fold K's unlabeled pool cut to the scans with weight > 0 (every unlabeled patch then carries a
pseudo-label; the other scans would only dilute L_pair, though they feed an EMA teacher's consistency term).
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk

from crosspan.core.atomic import write_json
from crosspan.core.dice import dice
from crosspan.core.errors import CrosspanError
from crosspan.core.parallel import pmap
from crosspan.data.catalog import catalog_from, save_catalog
from crosspan.data.io import ImageProperties, read_image, write_image
from crosspan.data.splits import Fold, Splits
from crosspan.preprocess.pairing.local import label_box, local_rigid, slice_search
from crosspan.preprocess.pairing.registration import Registration, register_rigid, scanner_frame, transport_label

TRANSPORTS = ("local", "consensus")


def plan_pairs(catalog: pd.DataFrame, split: Fold, source_sequence: str | None = None) -> list[dict]:
    """One job per unlabeled case: its source = a labeled training scan of the same patient (``source_sequence``
    first when given, else the first in case-id order), or none."""
    by_id = catalog.set_index("case_id", drop=False)
    missing = [c for c in split.train + split.unlabeled if c not in by_id.index]
    if missing:
        raise CrosspanError(None, f"{len(missing)} split cases are not in the catalog (e.g. {missing[0]})",
                            "pass the dataset/catalog the splits JSON was made from")
    labeled: dict[str, list[pd.Series]] = {}
    for c in sorted(split.train):
        row = by_id.loc[c]
        if str(row["label"]).strip():
            labeled.setdefault(str(row["patient_id"]), []).append(row)
    jobs = []
    for c in sorted(split.unlabeled):
        row = by_id.loc[c]
        cands = [s for s in labeled.get(str(row["patient_id"]), []) if s["case_id"] != c]
        if source_sequence:
            cands = sorted(cands, key=lambda s: s["sequence"] != source_sequence)
        src = cands[0] if cands else None
        jobs.append({"case_id": c, "image": str(row["image"]),  # the target's label path is deliberately not passed
                     "source": None if src is None else {"case_id": str(src["case_id"]), "image": str(src["image"]),
                                                          "label": str(src["label"])}})
    return jobs


def consensus(candidates: dict[str, np.ndarray], min_agreement: float
              ) -> tuple[str, float, dict[tuple[str, str], float]]:
    """(The candidate label with the highest mean Dice to the others, ties to the first; its weight: its best
    Dice with another, 0 below ``min_agreement`` or when it is empty; the Dice of every pair of candidates)."""
    names = list(candidates)
    agree = {(a, b): dice(candidates[a], candidates[b], empty=0.0)  # two empty labels: no evidence
             for i, a in enumerate(names) for b in names[i + 1:]}

    def with_others(n: str) -> list[float]:
        return [v for pair, v in agree.items() if n in pair]

    choice = max(names, key=lambda n: (float(np.mean(with_others(n))), -names.index(n)))
    best = max(with_others(choice))
    return choice, (best if best >= min_agreement and candidates[choice].any() else 0.0), agree


def pair_case(job: dict[str, Any], out: str, iterations: int = 100, min_agreement: float = 0.5,
              seed: int = 0, transport: str = "local") -> dict[str, Any]:
    """Worker: register, transport, weigh and write one unlabeled case (skipped when already done). ITK runs on one
    thread, so a pair's result is the same on every run at a fixed ``seed`` (parallelism: ``workers``)."""
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    case, out_dir = job["case_id"], Path(out)
    label_path, record_path = out_dir / "labels" / f"{case}.nii.gz", out_dir / "pairs" / f"{case}.json"
    if record_path.is_file() and label_path.is_file():
        return {**json.loads(record_path.read_text()), "status": "cached"}
    target, tprops = read_image(job["image"], dtype="float32")
    rec: dict[str, Any] = {"case_id": case, "source": "", "pseudo_label": str(label_path.resolve()), "weight": 0.0,
                           "agreement": float("nan"), "metric_fwd": float("nan"), "metric_bwd": float("nan"),
                           "translation_mm": float("nan"), "pseudo_voxels": 0, "transport": "",
                           "agreement_forward_scanner": float("nan"), "agreement_backward_scanner": float("nan"),
                           "slice_shift_mm": float("nan")}
    src = job["source"]
    if src is None:
        moved = np.zeros(tprops.shape, np.uint8)
    else:
        image, sprops = read_image(src["image"], dtype="float32")
        label, lprops = read_image(src["label"])
        if tuple(label.shape) != tuple(image.shape):
            raise CrosspanError(src["label"], f"label shape {label.shape} differs from its image {image.shape}",
                                "fix the dataset (`crosspan data check`)")
        label = (label > 0).astype(np.uint8)
        rec["source"] = src["case_id"]
        run = _local if transport == "local" else _consensus
        moved = run(rec, target, tprops, image, sprops, label, lprops, iterations, min_agreement, seed)
    rec["pseudo_voxels"] = int(moved.sum())
    write_image(moved.astype(np.uint8), tprops, label_path)
    write_json(record_path, rec)  # last: its presence marks the case done
    return {**rec, "status": "done"}


def _local(rec: dict[str, Any], target: np.ndarray, tprops: ImageProperties, image: np.ndarray,
           sprops: ImageProperties, label: np.ndarray, lprops: ImageProperties, iterations: int,
           min_agreement: float, seed: int) -> np.ndarray:
    """The ``local`` transport (module docstring); fills ``rec``."""
    scanner = transport_label(label, lprops, tprops, scanner_frame())
    box = label_box(scanner, tprops.spacing)
    if box is None:  # the source label misses the target's field of view
        rec.update(transport="local", agreement=0.0)
        return scanner
    fit = local_rigid(target, tprops, image, sprops, box, iterations=iterations, seed=seed)
    moved, shifts = slice_search(target, tprops, image, sprops, label, lprops, fit, box)
    agreement = dice(moved, scanner, empty=0.0)
    rec.update(transport="local", agreement=agreement, metric_fwd=fit.metric,
               translation_mm=float(np.linalg.norm(fit.translation_xyz)),
               weight=agreement if agreement >= min_agreement and moved.any() else 0.0,
               slice_shift_mm=float(np.linalg.norm(shifts, axis=1).mean()))
    return moved


def _consensus(rec: dict[str, Any], target: np.ndarray, tprops: ImageProperties, image: np.ndarray,
               sprops: ImageProperties, label: np.ndarray, lprops: ImageProperties, iterations: int,
               min_agreement: float, seed: int) -> np.ndarray:
    """The ``consensus`` transport (module docstring); fills ``rec``."""
    fwd = register_rigid(target, tprops, image, sprops, iterations=iterations, seed=seed)
    bwd = register_rigid(image, sprops, target, tprops, iterations=iterations, seed=seed + 1)
    candidates = {"forward": transport_label(label, lprops, tprops, fwd),
                  "backward": transport_label(label, lprops, tprops,
                                              Registration(bwd.transform.GetInverse(), bwd.metric)),
                  "scanner": transport_label(label, lprops, tprops, scanner_frame())}
    choice, weight, agree = consensus(candidates, min_agreement)
    rec.update(agreement=agree[("forward", "backward")], metric_fwd=fwd.metric, metric_bwd=bwd.metric,
               translation_mm=float(np.linalg.norm(fwd.translation_xyz)), weight=weight, transport=choice,
               agreement_forward_scanner=agree[("forward", "scanner")],
               agreement_backward_scanner=agree[("backward", "scanner")])
    return candidates[choice]


def pair_fold(data: str | Path, splits: str | Path, fold: int | str, out: str | Path,
              source_sequence: str | None = None, iterations: int = 100, min_agreement: float = 0.5, seed: int = 0,
              workers: int = 1, progress: bool = True, transport: str = "local") -> pd.DataFrame:
    """Pair every unlabeled case of ``fold``; write OUT/catalog.csv and OUT/pairs.csv; return the pairs table."""
    out = Path(out)
    doc = Splits.load(splits)
    index = doc.index(fold)
    split = doc.splits[index]
    if not split.unlabeled:
        raise CrosspanError(splits, f"fold {fold} lists no unlabeled cases",
                            "make splits with `crosspan data splits ... --unlabeled '*:OOP'`")
    if transport not in TRANSPORTS:
        raise CrosspanError(None, f"unknown transport {transport!r}", f"pass --transport {' or '.join(TRANSPORTS)}")
    if not 0.0 <= min_agreement <= 1.0:
        raise CrosspanError(None, f"min agreement {min_agreement} outside [0, 1]", "pass --min-agreement in [0, 1]")
    catalog = catalog_from(data, progress=progress)
    jobs = plan_pairs(catalog, split, source_sequence)
    if not any(j["source"] for j in jobs):
        raise CrosspanError(splits, f"no unlabeled case of fold {fold} has a labeled scan of the same patient",
                            "put the target-sequence scans of the labeled patients in the unlabeled pool")
    (out / "labels").mkdir(parents=True, exist_ok=True)
    (out / "pairs").mkdir(parents=True, exist_ok=True)
    fn = functools.partial(pair_case, out=str(out), iterations=iterations, min_agreement=min_agreement, seed=seed,
                           transport=transport)
    rows = pmap(fn, jobs, workers=workers, description="registering pairs", progress=progress)
    table = pd.DataFrame(rows)
    save_catalog(table.drop(columns=["status"]), out / "pairs.csv")
    by_case = {r["case_id"]: r for r in rows}
    cat = catalog.copy()
    cat["pseudo_label"] = [by_case[c]["pseudo_label"] if c in by_case else "" for c in cat["case_id"]]
    cat["pseudo_weight"] = [f"{by_case[c]['weight']:.4f}" if c in by_case else "" for c in cat["case_id"]]
    save_catalog(cat, out / "catalog.csv")
    keep = {r["case_id"] for r in rows if r["weight"] > 0}
    paired = split.model_copy(update={"unlabeled": [c for c in split.unlabeled if c in keep]})
    write_json(out / "splits_paired.json", doc.with_fold(index, paired).to_json())
    return table


def summary(table: pd.DataFrame) -> str:
    paired = table[table["source"] != ""]
    w = paired["weight"].astype(float)
    mean_w = float(w.mean()) if len(w) else math.nan
    return (f"{len(table)} unlabeled cases: {len(paired)} paired (mean weight {mean_w:.2f}, "
            f"{int((w == 0).sum())} rejected), {len(table) - len(paired)} without a labeled scan of the patient")
