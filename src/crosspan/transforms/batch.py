"""Per-sample draws and broadcasting over a batch of volumes (B, C, Z, Y, X), on the batch's device.

Every draw takes ``gen``: a ``torch.Generator`` on the batch's device, or None for torch's global generator (what
the training loop reseeds every step).
"""

from __future__ import annotations

import torch

EPS = 1e-6


def bshape(t: torch.Tensor, ndim: int = 5) -> torch.Tensor:
    """(B,) -> (B, 1, 1, 1, 1) for broadcasting over a batch of volumes."""
    return t.reshape(-1, *([1] * (ndim - 1)))


def rand(shape: tuple[int, ...], ref: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """U(0, 1) samples of ``shape`` on ``ref``'s device and dtype."""
    return torch.rand(shape, generator=gen, device=ref.device, dtype=ref.dtype)


def randn(shape: tuple[int, ...], ref: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """N(0, 1) samples of ``shape`` on ``ref``'s device and dtype."""
    return torch.randn(shape, generator=gen, device=ref.device, dtype=ref.dtype)


def uniform(b: int, lo: float, hi: float, ref: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """(B,) samples from U(lo, hi) on ``ref``'s device and dtype."""
    return lo + (hi - lo) * rand((b,), ref, gen)


def coin(b: int, p: float, ref: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """(B,) booleans on ``ref``'s device, each True with probability ``p``."""
    return torch.rand(b, generator=gen, device=ref.device) < p


def where(mask: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """Per-sample choice between two batches: ``new`` where ``mask`` (B,) is True."""
    return torch.where(bshape(mask, old.ndim), new, old)


def spatial_dims(x: torch.Tensor) -> tuple[int, ...]:
    """The spatial axes of a (B, C, ...) batch."""
    return tuple(range(2, x.ndim))


def like_input(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``y`` in ``x``'s memory format (channels-last 3D or contiguous), so the network sees what ERM sees."""
    if x.ndim == 5 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last_3d):
        return y.contiguous(memory_format=torch.channels_last_3d)
    return y.contiguous()
