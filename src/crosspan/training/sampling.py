"""Patch sampling from the memory-mapped cache with foreground oversampling (nnU-Net: a third of the patches
are centred on a foreground voxel).

Every batch is a pure function of ``(seed, step)``, so a resumed run draws the same batches as an uninterrupted
one and the sampler needs no state beyond the step.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from crosspan.core.errors import CrosspanError
from crosspan.core.seeding import rng
from crosspan.preprocess.cache import aux_path, cache_paths, foreground_points


@dataclass
class CaseArrays:
    case_id: str
    image: np.ndarray  # memory-mapped (z, y, x) float32
    label: np.ndarray | None
    fg: np.ndarray  # (n, 3) foreground coordinates
    domain: int
    aux: dict[str, np.ndarray] = field(default_factory=dict)  # memory-mapped uint8 maps (tissue, pseudo_label)
    scalars: dict[str, float] = field(default_factory=dict)  # per-case numbers (pseudo_weight)


def open_case(cache_dir: str | Path, case_id: str, domain: int = 0, need_label: bool = True) -> CaseArrays:
    p = cache_paths(cache_dir, case_id)
    if not p["meta"].is_file():
        raise CrosspanError(p["meta"], f"case '{case_id}' is not in the cache",
                            "run `crosspan preprocess` for this catalog (it caches every case)")
    meta = json.loads(p["meta"].read_text())
    if need_label and not meta.get("has_label"):
        raise CrosspanError(p["meta"], f"case '{case_id}' has no label", "training and validation cases need labels")
    image = np.load(p["image"], mmap_mode="r")
    label = np.load(p["label"], mmap_mode="r") if meta.get("has_label") else None
    fg = np.load(p["fg"]) if p["fg"].is_file() else np.zeros((0, 3), np.int32)
    aux = {k: np.load(aux_path(cache_dir, case_id, k), mmap_mode="r") for k in meta.get("aux", {})}
    return CaseArrays(case_id, image, label, fg, domain, aux, {k: float(v) for k, v in meta.get("scalars", {}).items()})


def extract(arr: np.ndarray, start: np.ndarray, size: tuple[int, ...], fill: float = 0.0) -> np.ndarray:
    """``arr[start:start+size]`` with out-of-bounds parts filled with ``fill``."""
    out = np.full(size, fill, dtype=arr.dtype)
    src, dst = [], []
    for s, n, dim in zip(start, size, arr.shape, strict=True):
        lo, hi = max(0, int(s)), min(dim, int(s) + n)
        src.append(slice(lo, max(lo, hi)))
        dst.append(slice(lo - int(s), lo - int(s) + max(0, hi - lo)))
    out[tuple(dst)] = arr[tuple(src)]
    return out


FG_FRACTION = 1 / 3  # nnU-Net's foreground oversampling of labeled patches
GUIDE_KEY = "pseudo_label"  # an auxiliary map that marks an unlabeled scan's (transported) foreground


class PatchSampler:
    """Draw ``batch_size`` patches per step; each is foreground-centred with probability ``fg_fraction``."""

    def __init__(self, cases: list[CaseArrays], patch: list[int], batch_size: int, seed: int,
                 fg_fraction: float = FG_FRACTION) -> None:
        if not cases:
            raise CrosspanError(None, "no training cases", "the plan's train list is empty")
        self.cases, self.patch, self.batch_size = cases, tuple(int(p) for p in patch), batch_size
        self.seed, self.fg_fraction = seed, fg_fraction
        # auxiliary maps/scalars go into batches only when every case has them (a batch is all or nothing)
        self.aux_keys = sorted(set.intersection(*(set(c.aux) for c in cases)))
        self.scalar_keys = sorted(set.intersection(*(set(c.scalars) for c in cases)))

    def _start(self, case: CaseArrays, g: np.random.Generator, force_fg: bool) -> np.ndarray:
        shape, patch = np.asarray(case.image.shape), np.asarray(self.patch)
        if force_fg and len(case.fg):
            centre = case.fg[g.integers(len(case.fg))]
            start = centre - patch // 2 + g.integers(-(patch // 4), patch // 4 + 1)
        else:
            start = np.array([g.integers(0, max(1, d - p + 1)) if d >= p else -((p - d) // 2)
                              for d, p in zip(shape, patch, strict=True)])
        hi = np.maximum(shape - patch, 0)
        lo = np.minimum(shape - patch, 0) // 2
        return np.clip(start, lo, hi)

    def batch(self, step: int) -> dict[str, np.ndarray]:
        g = rng(self.seed, "batch", step)
        n_fg = int(np.floor(self.batch_size * self.fg_fraction + g.random()))
        images, labels, domains = [], [], []
        aux: dict[str, list[np.ndarray]] = {k: [] for k in self.aux_keys}
        scalars: dict[str, list[float]] = {k: [] for k in self.scalar_keys}
        for i in range(self.batch_size):
            case = self.cases[int(g.integers(len(self.cases)))]
            start = self._start(case, g, force_fg=i >= self.batch_size - n_fg)
            images.append(extract(case.image, start, self.patch, 0.0))
            labels.append(extract(case.label, start, self.patch, 0) if case.label is not None
                          else np.zeros(self.patch, np.uint8))
            domains.append(case.domain)
            for k in self.aux_keys:
                aux[k].append(extract(case.aux[k], start, self.patch, 0))
            for k in self.scalar_keys:
                scalars[k].append(case.scalars[k])
        out = {"image": np.stack(images)[:, None].astype(np.float32), "label": np.stack(labels)[:, None],
               "domain": np.asarray(domains, dtype=np.int64)}
        out.update({k: np.stack(v)[:, None] for k, v in aux.items()})
        out.update({k: np.asarray(v, dtype=np.float32) for k, v in scalars.items()})
        return out


def unlabeled_sampler(cases: list[CaseArrays], patch: list[int], batch_size: int, seed: int) -> PatchSampler:
    """The sampler of an SSL method's unlabeled patches.

    Plain unlabeled scans know no foreground: patches are drawn uniformly. Scans that carry a pseudo-label map
    (``crosspan ssl pair``) are oversampled around its foreground at the labeled patches' rate, so an unlabeled
    patch contains pseudo-label foreground as often as a labeled patch contains label foreground. Without it, in a
    large field of view almost every unlabeled patch is background and the pseudo-label term teaches the network
    that the target sequence is background (issue #17).
    """
    if cases and all(GUIDE_KEY in c.aux for c in cases):
        cases = [replace(c, fg=foreground_points(c.aux[GUIDE_KEY], c.case_id)) for c in cases]
        return PatchSampler(cases, patch, batch_size, seed, fg_fraction=FG_FRACTION)
    return PatchSampler(cases, patch, batch_size, seed, fg_fraction=0.0)


class Prefetcher:
    """A background thread that builds the batches of steps ``start..stop-1`` in order."""

    def __init__(self, sampler: PatchSampler, start: int, stop: int, depth: int = 3) -> None:
        self.sampler, self.start, self.stop = sampler, start, stop
        self.q: queue.Queue = queue.Queue(maxsize=depth)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self._stop = threading.Event()
        self.thread.start()

    def _run(self) -> None:
        try:
            for step in range(self.start, self.stop):
                if self._stop.is_set():
                    return
                self.q.put((step, self.sampler.batch(step)))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
            self.q.put((None, exc))

    def __iter__(self) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        for _ in range(self.start, self.stop):
            step, item = self.q.get()
            if step is None:
                raise item
            yield step, item

    def close(self) -> None:
        self._stop.set()
