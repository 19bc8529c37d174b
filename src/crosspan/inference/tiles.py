"""MONAI's Gaussian sliding window rebuilt tile by tile (:class:`TileWindow`), so a caller can choose which of the
full window's tiles to evaluate (``crosspan predict --roi auto``, :mod:`crosspan.inference.roi`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.data.utils import compute_importance_map, dense_patch_slices

from crosspan.methods.base import Method

Box = list[tuple[int, int]]


def _interval(shape: tuple[int, ...] | list[int], patch: list[int], overlap: float) -> list[int]:
    """MONAI's scan interval (``_get_scan_interval``) on a padded shape."""
    return [p if s == p else max(int(p * (1 - overlap)), 1) for s, p in zip(shape, patch, strict=True)]


def window_tiles(shape: tuple[int, ...] | list[int], patch: list[int], overlap: float) -> int:
    """Number of tiles MONAI's ``sliding_window_inference`` evaluates on ``shape`` (its padding and scan grid)."""
    padded = [max(int(s), p) for s, p in zip(shape, patch, strict=True)]
    return len(dense_patch_slices(padded, patch, _interval(padded, patch, overlap)))


class TileWindow:
    """MONAI's Gaussian sliding window on one (1, C, z, y, x) tensor, evaluated a chosen set of tiles at a time.

    Same padding (centred, zeros, up to one patch), tile grid (``dense_patch_slices``) and importance map
    (``compute_importance_map``, sigma 0.125) as ``sliding_window_inference``; with every tile added,
    :meth:`prob` is :func:`predict_volume`'s output. Each tile is evaluated at most once."""

    def __init__(self, method: Method, x: torch.Tensor, patch: list[int], overlap: float,
                 layout: torch.memory_format, sw_batch_size: int) -> None:
        self.method, self.patch, self.layout, self.batch = method, patch, layout, sw_batch_size
        self.shape = tuple(int(s) for s in x.shape[2:])
        diff = [max(p - n, 0) for p, n in zip(patch, self.shape, strict=True)]
        self.pad_lo = [d // 2 for d in diff]
        pad = [v for d in reversed(diff) for v in (d // 2, d - d // 2)]
        self.x = F.pad(x, pad) if any(pad) else x
        padded = [int(s) for s in self.x.shape[2:]]
        self.slices = dense_patch_slices(padded, patch, _interval(padded, patch, overlap))
        self.weight = compute_importance_map(tuple(patch), mode="gaussian", sigma_scale=0.125, device=x.device,
                                             dtype=torch.float32)[None, None]
        self.num: torch.Tensor | None = None
        self.den = torch.zeros((1, 1, *padded), device=x.device)
        self.done: set[int] = set()

    def add(self, tiles: list[int]) -> int:
        """Evaluate those of ``tiles`` not evaluated yet (``sw_batch_size`` a forward); how many that was."""
        todo = [i for i in tiles if i not in self.done]
        for b in range(0, len(todo), self.batch):
            chunk = todo[b: b + self.batch]
            out = self._forward(chunk)
            if self.num is None:
                self.num = torch.zeros((1, out.shape[1], *self.den.shape[2:]), device=self.den.device)
            for k, i in enumerate(chunk):
                s = (slice(None), slice(None), *self.slices[i])
                self.num[s] += out[k: k + 1] * self.weight
                self.den[s] += self.weight
        self.done.update(todo)
        return len(todo)

    def _forward(self, tiles: list[int]) -> torch.Tensor:
        t = torch.cat([self.x[(slice(None), slice(None), *self.slices[i])] for i in tiles])
        return self.method.predict(t.contiguous(memory_format=self.layout)).float()

    def all(self) -> list[int]:
        return list(range(len(self.slices)))

    def cover(self) -> list[int]:
        """The fewest tiles of the grid that cover the image: along each axis, from the first start, the last start
        that leaves no gap (every other tile at overlap 0.5)."""
        keep = []
        for axis in range(len(self.patch)):
            starts = sorted({s[axis].start for s in self.slices})
            chosen = [starts[0]]
            while chosen[-1] < starts[-1]:
                nxt = max(s for s in starts if s <= chosen[-1] + self.patch[axis])
                chosen.append(nxt if nxt > chosen[-1] else min(s for s in starts if s > chosen[-1]))
            keep.append(set(chosen))
        return [i for i, s in enumerate(self.slices) if all(s[a].start in keep[a] for a in range(len(keep)))]

    def touching(self, boxes: list[Box]) -> list[int]:
        """Tiles that overlap any of ``boxes`` (image coordinates)."""
        out = []
        for i, s in enumerate(self.slices):
            for box in boxes:
                if all(sl.start < hi + o and sl.stop > lo + o
                       for sl, (lo, hi), o in zip(s, box, self.pad_lo, strict=True)):
                    out.append(i)
                    break
        return out

    def prob(self) -> torch.Tensor:
        """(C, z, y, x) blend of the tiles evaluated so far; background (class 0 = 1) where none covers."""
        assert self.num is not None
        covered = self.den > 0
        p = torch.where(covered, self.num / self.den.clamp_min(1e-12), 0.0)
        p[:, :1] += (~covered).float()
        index: tuple[int | slice, ...] = (0, slice(None), *(slice(o, o + n) for o, n in
                                                              zip(self.pad_lo, self.shape, strict=True)))
        return p[index]


__all__ = ["Box", "TileWindow", "window_tiles"]
