"""`crosspan preprocess` as a function: plan + cache for a catalog."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from crosspan.core.atomic import write_json
from crosspan.core.parallel import pmap
from crosspan.data.catalog import catalog_from, save_catalog
from crosspan.data.layouts.base import AUX_MAP_COLUMNS, AUX_SCALAR_COLUMNS
from crosspan.data.splits import Splits
from crosspan.preprocess.cache import cache_case
from crosspan.preprocess.normalize import BODY_MASKS, DEFAULT_BODY_MASK
from crosspan.preprocess.plan import Normalization, Plan, make_plan, plan_hash, select_rows


def preprocess(data: str | Path, out: str | Path, train_domains: list[str] | None = None,
               splits: str | Path | None = None, fold: int | str = 0, workers: int = 1, cases: str = "all",
               spacing: list[float] | None = None, progress: bool = True,
               normalization: str = "zscore", body_mask: str = DEFAULT_BODY_MASK) -> dict[str, Any]:
    """Write ``out/cache/``, then ``out/catalog.csv`` and ``out/plan.json``; returns the plan with a summary.

    The plan and catalog are written last, so a failed run leaves no plan behind; a fresh ``out`` that fails is
    removed altogether (a rerun into an existing folder keeps its complete cached cases).
    """
    out = Path(out)
    fresh = not out.exists()
    try:
        return _preprocess(data, out, train_domains, splits, fold, workers, cases, spacing, progress, normalization,
                           body_mask)
    except Exception:  # Ctrl-C and kill keep the complete cached cases for a rerun
        if fresh:
            shutil.rmtree(out, ignore_errors=True)
        raise


def _preprocess(data: str | Path, out: Path, train_domains: list[str] | None, splits: str | Path | None,
                fold: int | str, workers: int, cases: str, spacing: list[float] | None, progress: bool,
                normalization: str, body_mask: str = DEFAULT_BODY_MASK) -> dict[str, Any]:
    catalog = catalog_from(data, progress=progress)
    doc = Splits.load(splits) if splits else None
    sel = select_rows(catalog, doc, train_domains, fold)
    plan = make_plan(catalog, sel, spacing=spacing)
    if body_mask not in BODY_MASKS:
        from crosspan.core.errors import CrosspanError

        raise CrosspanError(None, f"unknown body mask '{body_mask}'", f"use {' or '.join(BODY_MASKS)}")
    plan.body_mask = body_mask  # type: ignore[assignment]  # checked against BODY_MASKS just above
    if normalization == "nyul":
        plan.normalization = Normalization(scheme="nyul", mask="body",
                                           landmarks=_learn_nyul(catalog, plan.cases.train, workers, progress,
                                                                plan.mask_method))
    elif normalization != "zscore":
        from crosspan.core.errors import CrosspanError

        raise CrosspanError(None, f"unknown normalization '{normalization}'", "use zscore or nyul")
    plan.source = str(data)
    h = plan_hash(plan)
    plan.plan_hash = h
    rows = catalog if cases == "all" else catalog[catalog["case_id"].isin(
        [c for k in ("train", "val", "test", "unlabeled") for c in sel.get(k, [])])]
    jobs = [_job(r, plan, h, out / "cache") for _, r in rows.iterrows()]
    results = pmap(cache_case, jobs, workers=workers, description="preprocessing", progress=progress)
    save_catalog(catalog, out / "catalog.csv")
    write_json(out / "plan.json", plan.to_json())
    summary = pd.DataFrame(results)
    return {**plan.to_json(), "summary": summary["status"].value_counts().to_dict() if not summary.empty else {}}


def _training_histogram(image_path: str, mask: str) -> tuple[Any, Any]:
    from crosspan.data.io import read_image
    from crosspan.preprocess.normalize import body_mask

    arr, _ = read_image(image_path, dtype="float32")
    return arr, body_mask(arr, mask)


def _learn_nyul(catalog: pd.DataFrame, train: list[str], workers: int, progress: bool, mask: str
                ) -> dict[str, Any]:
    """Nyul landmarks from the training images (source domains only), inside their body masks (the plan's)."""
    from crosspan.preprocess.normalize import learn_nyul

    paths = [str(p) for p in catalog[catalog["case_id"].isin(train)]["image"]]
    pairs = pmap(partial(_training_histogram, mask=mask), paths, workers=workers, description="learning Nyul landmarks",
                 progress=progress)
    return learn_nyul(pairs)


def _job(row: pd.Series, plan: Plan, h: str, cache_dir: Path) -> dict[str, Any]:
    aux = {k: str(row[k]) for k in AUX_MAP_COLUMNS if str(row.get(k) or "").strip()}
    scalars = {k: _scalar(row, k) for k in AUX_SCALAR_COLUMNS if str(row.get(k) or "").strip()}
    return {"case_id": str(row["case_id"]), "image": str(row["image"]), "label": str(row.get("label") or ""),
            "plan": plan, "plan_hash": h, "cache_dir": str(cache_dir), "aux": aux, "scalars": scalars}


def _scalar(row: pd.Series, key: str) -> float:
    from crosspan.core.errors import CrosspanError

    try:
        return float(row[key])
    except ValueError:
        raise CrosspanError(None, f"case {row['case_id']}: {key} '{row[key]}' is not a number",
                            f"write a number in [0, 1] in the catalog's {key} column") from None
