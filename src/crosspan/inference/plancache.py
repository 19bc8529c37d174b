"""Prediction reuses the plan's cache: an input image that ``crosspan preprocess`` cached under the run's plan
(``model.plan_dir``/cache, the same plan hash, the same source file by path, size and mtime) is read from its
``<case>.npy`` instead of being re-read and re-preprocessed. The cache stores the geometry the way back needs
(source and preprocessed properties), so the mask is the same voxel for voxel; anything that does not match
exactly (another plan hash, a changed or moved file, an entry from before the cache recorded the absolute
path, a half-written entry) is preprocessed afresh."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from crosspan.preprocess.cache import Preprocessed, load_cached
from crosspan.preprocess.plan import Preprocessing, plan_hash
from crosspan.runs.model import RunModel

log = logging.getLogger(__name__)


@dataclass
class PlanCache:
    """The cached cases of one plan, found by their source image; ``hits``/``misses`` count the lookups."""

    folder: Path
    plan_hash: str
    hits: int = 0
    misses: int = 0
    _index: dict[Path, Path] | None = field(default=None, repr=False)

    @classmethod
    def of_run(cls, model: RunModel, plan: Preprocessing) -> PlanCache | None:
        """The cache of the run's plan folder (None when the run names none); the hash is recomputed from the
        run's own ``plan.json``, so a cache written under another preprocessing never matches."""
        if not model.plan_dir:
            return None
        return cls(folder=Path(model.plan_dir) / "cache", plan_hash=plan_hash(plan))

    def lookup(self, image: str | Path) -> Preprocessed | None:
        """The cached preprocessed ``image``, or None (counted as a miss) when no entry matches it exactly."""
        meta = self.index().get(Path(image).resolve())
        pre = load_cached(meta, image, self.plan_hash) if meta is not None else None
        if pre is None:
            self.misses += 1
        else:
            self.hits += 1
        return pre

    def index(self) -> dict[Path, Path]:
        """Resolved source image -> its cache entry's JSON, for the entries of this plan hash (read once)."""
        if self._index is None:
            self._index = {}
            for meta in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
                try:
                    doc = json.loads(meta.read_text())
                except (OSError, ValueError):
                    continue
                if isinstance(doc, dict) and doc.get("plan_hash") == self.plan_hash and doc.get("image_path"):
                    self._index[Path(str(doc["image_path"]))] = meta
            log.info("plan cache %s: %d case(s) under plan hash %s", self.folder, len(self._index), self.plan_hash)
        return self._index


__all__ = ["PlanCache"]
