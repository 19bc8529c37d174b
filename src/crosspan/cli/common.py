"""Shared CLI helpers: one-line errors with a non-zero exit, a console, option parsing."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

import typer
from rich.console import Console

from crosspan.core.errors import CrosspanError

console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def handle_errors(fn: F) -> F:
    """Turn :class:`CrosspanError` into one printed line and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CrosspanError as err:
            raise fail(str(err)) from None

    return cast(F, wrapper)


def split_list(value: str | None) -> list[str]:
    """``"A,B, C"`` -> ``["A", "B", "C"]``; empty or None -> ``[]``."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]


AMP_HELP = ("Mixed precision: bf16 | fp16 | none. bf16 also pays on a CPU with native bf16 (AVX512-BF16/AMX): "
            "~2x faster training and prediction of the nnunet preset (BENCHMARKS.md).")


DEVICE_HELP = "auto (CUDA when present, else cpu) | cpu | cuda | cuda:N."


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cpu``, ``cuda`` and ``cuda:N`` as given."""
    import re

    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise fail(f"bad --device '{device}': use auto, cpu, cuda or cuda:N")
    return device


def check_amp(amp: str, device: str) -> None:
    """Reject an unknown ``--amp``; warn where the precision would be slower than fp32 on this device."""
    if amp not in ("bf16", "fp16", "none"):
        raise fail(f"bad --amp '{amp}': use bf16, fp16 or none")
    if device.startswith("cpu") and amp != "none" and (amp == "fp16" or not cpu_has_fast_bf16()):
        console.print(f"[yellow]warning:[/] --amp {amp} on this CPU has no fast kernels and will likely be "
                      "slower than fp32; use --amp none" + ("" if amp == "bf16" else " or --amp bf16"),
                      highlight=False, soft_wrap=True)


def cpu_has_fast_bf16() -> bool:
    """Whether oneDNN has native bf16 kernels on this CPU (AVX512-BF16 or AMX)."""
    import torch

    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
