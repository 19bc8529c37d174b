"""Mixed precision: the ``--amp`` names and the autocast context they select (``none`` = full precision)."""

from __future__ import annotations

import contextlib

import torch

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(amp: str, device: torch.device) -> contextlib.AbstractContextManager:
    """``torch.autocast`` in ``amp``'s dtype on ``device``'s type; a no-op for ``none`` (or any other name)."""
    if amp in AMP_DTYPES:
        return torch.autocast(device.type, dtype=AMP_DTYPES[amp])
    return contextlib.nullcontext()
