"""The plan (nnU-Net's "fingerprint" + "plans", Isensee et al., Nature Methods 2021) as plain JSON.

Derived from the training rows of a catalog: target spacing (median; for anisotropic data the low-resolution
axis takes the 10th percentile), normalization, crop, patch size and the case lists of the split.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from crosspan.core.errors import CrosspanError
from crosspan.data.documents import Document, load_document
from crosspan.data.splits import CaseIds, Splits
from crosspan.preprocess.geometry import CANONICAL, canonical_spacing
from crosspan.preprocess.normalize import DEFAULT_BODY_MASK

PLAN_VERSION = 1
#: voxel budgets of the default patch: GPU-sized (nnunet preset) and CPU-sized (tiny preset)
PATCH_BUDGET = 128**3
PATCH_BUDGET_CPU = 48**3
PLAN_FIX = "run `crosspan preprocess DATA -o PLAN_DIR` first"


class Normalization(Document):
    """Intensity normalization: per-image z-score inside the body (clipped at percentiles), or Nyul landmarks."""

    scheme: Literal["zscore", "nyul"] = "zscore"
    mask: str = "body"
    clip_percentiles: tuple[float, float] | None = None
    landmarks: dict[str, Any] | None = None  # nyul: the standard scale learned from the training images

    @property
    def clip(self) -> tuple[float, float]:
        return self.clip_percentiles or (0.5, 99.5)


class Cases(Document):
    """The case lists of the plan's split."""

    train: CaseIds = Field(default_factory=list)
    val: CaseIds = Field(default_factory=list)
    test: CaseIds = Field(default_factory=list)
    unlabeled: CaseIds = Field(default_factory=list)


class Preprocessing(Document):
    """What changes the preprocessed arrays (reorientation, spacing, crop, normalization): enough to preprocess an
    image; :func:`plan_hash` hashes exactly these fields."""

    version: int = PLAN_VERSION
    orientation: str = CANONICAL
    target_spacing: tuple[float, float, float]
    normalization: Normalization = Field(default_factory=lambda: Normalization(clip_percentiles=(0.5, 99.5)))
    crop: Literal["body", "none"] = "body"
    body_mask: Literal["otsu", "noise-floor"] | None = None  # crop and z-score mask; None: a plan from before it

    @property
    def mask_method(self) -> str:
        """The body mask (:func:`crosspan.preprocess.normalize.body_mask`): plans without the field used ``otsu``."""
        return self.body_mask or "otsu"

    @field_validator("target_spacing")
    @classmethod
    def _positive(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if not all(s > 0 for s in v):
            raise ValueError(f"spacings must be > 0, got {list(v)}")
        return v


class Plan(Preprocessing):
    """``plan.json``: the preprocessing, the default patch sizes (GPU and CPU presets) and the split's cases."""

    json_order: ClassVar[tuple[str, ...]] = ("version", "orientation", "target_spacing", "median_shape",
                                             "normalization", "crop")  # as make_plan always wrote them

    median_shape: list[float] = Field(default_factory=list)
    patch_size: tuple[int, int, int]
    patch_size_cpu: tuple[int, int, int]
    train_domains: list[str] = Field(default_factory=list)
    training_input: Literal["images", "label-maps"] = "images"
    cases: Cases = Field(default_factory=Cases)
    source: str | None = None
    plan_hash: str | None = None

    @classmethod
    def load(cls, plan_dir: str | Path) -> Plan:
        """``PLAN_DIR/plan.json`` (or a ``plan.json`` path); a missing or bad file is one error naming it."""
        path = Path(plan_dir)
        path = path if path.name == "plan.json" else path / "plan.json"
        return load_document(cls, path, "plan.json", PLAN_FIX)

    def default_patch(self, network: str) -> list[int]:
        """The plan's patch for a network preset: the CPU-sized one for ``tiny``, else the GPU-sized one."""
        return list(self.patch_size_cpu if network == "tiny" else self.patch_size)


def target_spacing(spacings: np.ndarray, aniso_ratio: float = 3.0) -> list[float]:
    """Median spacing per axis; if max/min of the median > ``aniso_ratio`` the coarse axis takes the 10th
    percentile of its spacings (but not finer than the other axes), as nnU-Net does."""
    spacings = np.asarray(spacings, dtype=float).reshape(-1, 3)
    target = np.median(spacings, axis=0)
    worst = int(np.argmax(target))
    others = [i for i in range(3) if i != worst]
    if target[worst] / max(float(np.min(target)), 1e-8) > aniso_ratio:
        p10 = float(np.percentile(spacings[:, worst], 10))
        target[worst] = max(p10, float(np.max(target[others])) + 1e-5)
    return [round(float(s), 6) for s in target]


def patch_size(median_shape: list[float], spacing: list[float], budget: int, multiple: int = 16) -> list[int]:
    """nnU-Net-style patch: start at the median shape, shrink the physically longest axis until the voxel
    count fits ``budget``, round to a multiple of ``multiple`` (at least ``multiple``)."""
    patch = [float(max(s, multiple)) for s in median_shape]

    def rounded(p: list[float]) -> list[int]:
        return [int(max(multiple, np.ceil(v / multiple - 1e-6) * multiple)) for v in p]

    while np.prod(rounded(patch)) > budget:
        mm = [p * s for p, s in zip(patch, spacing, strict=True)]
        ax = int(np.argmax(mm))
        patch[ax] = max(multiple, patch[ax] * 0.9)
        if all(p <= multiple for p in patch):
            break
    return rounded(patch)


def select_rows(catalog: pd.DataFrame, splits: Splits | None, train_domains: list[str] | None,
                fold: int | str = 0) -> dict[str, Any]:
    """Case lists (train/val/test/unlabeled) from a fold of a splits document (:meth:`Splits.fold`), or from
    domain filters + the catalog's ``split`` column."""
    if splits is not None:
        f = splits.fold(fold)
        out: dict[str, Any] = {k: list(getattr(f, k)) for k in ("train", "val", "test", "unlabeled")}
        out["train_domains"] = list(f.train_domains)
        out["training_input"] = f.training_input or "images"
        return out
    from crosspan.data.domains import domain_mask, domains_in

    mask = domain_mask(catalog, train_domains) if train_domains else pd.Series(True, index=catalog.index)
    sub = catalog[mask]
    out = {k: sub.loc[sub["split"] == k, "case_id"].astype(str).tolist() for k in ("train", "val", "test")}
    out["unlabeled"] = []
    out["train_domains"] = domains_in(sub[sub["split"] == "train"])
    return out


def _canonical_rows(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    sp, sh = [], []
    for _, r in rows.iterrows():
        o = str(r.get("orientation", "") or "")
        s = (float(r["spacing_z"]), float(r["spacing_y"]), float(r["spacing_x"]))
        n = (float(r["shape_z"]), float(r["shape_y"]), float(r["shape_x"]))
        sp.append(canonical_spacing(s, o))
        sh.append(canonical_spacing(n, o))  # the same permutation applies to the shape
    return np.asarray(sp), np.asarray(sh)


def make_plan(catalog: pd.DataFrame, cases: dict[str, Any], clip: tuple[float, float] = (0.5, 99.5),
              spacing: list[float] | None = None) -> Plan:
    """The plan for the training rows named in ``cases['train']``."""
    train = catalog[catalog["case_id"].astype(str).isin(cases["train"])]
    if train.empty:
        raise CrosspanError(None, "no training cases selected", "check --train-domains / --splits against the catalog")
    sp, sh = _canonical_rows(train)
    tgt = list(spacing) if spacing else target_spacing(sp)
    median_mm = np.median(sh * sp, axis=0)
    median_shape = [float(m / t) for m, t in zip(median_mm, tgt, strict=True)]
    return Plan(
        version=PLAN_VERSION, orientation=CANONICAL, target_spacing=tgt,
        median_shape=[round(m, 1) for m in median_shape],
        normalization=Normalization(scheme="zscore", mask="body", clip_percentiles=clip), crop="body",
        body_mask=DEFAULT_BODY_MASK,
        patch_size=patch_size(median_shape, tgt, PATCH_BUDGET),
        patch_size_cpu=patch_size(median_shape, tgt, PATCH_BUDGET_CPU),
        train_domains=cases.get("train_domains", []), training_input=cases.get("training_input", "images"),
        cases=Cases(**{k: cases.get(k, []) for k in ("train", "val", "test", "unlabeled")}))


def plan_hash(plan: Preprocessing) -> str:
    """Hash of the fields that change preprocessed arrays (a cached case with another hash is redone)."""
    doc = plan.to_json()
    keys = {k: doc[k] for k in ("version", "orientation", "target_spacing", "normalization", "crop")}
    if plan.mask_method != "otsu":  # the default leaves the hashes of existing plans (and their caches) as they were
        keys["body_mask"] = plan.body_mask
    return hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:16]


def load_plan(plan_dir: str | Path) -> Plan:
    """``PLAN_DIR/plan.json`` as a :class:`Plan` (see :meth:`Plan.load`)."""
    return Plan.load(plan_dir)
