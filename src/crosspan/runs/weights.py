"""Weights of a run: ``torch.load(weights_only=True)`` only; an empty, truncated or unsafe file is one error line."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from crosspan.core.errors import CrosspanError

#: weight files of a run folder, in the order predict tries them
WEIGHT_FILES = ("model_final.pt", "checkpoint_last.pt")


def safe_load(path: Path, fix: str) -> Any:
    """``torch.load(weights_only=True)``; an empty, truncated or unsafe file is one :class:`CrosspanError`.

    Nothing in the file is executed, and the message never repeats torch's advice to load it unsafely.
    """
    if path.stat().st_size == 0:
        raise CrosspanError(path, "checkpoint file is empty (0 bytes; an interrupted copy?)", fix)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - UnpicklingError (unsafe content), EOFError/RuntimeError (truncated)
        kind = "holds objects other than tensors (refused, nothing was executed)" \
            if isinstance(exc, pickle.UnpicklingError) else "truncated or not a torch file"
        raise CrosspanError(path, f"unloadable checkpoint: {kind} ({type(exc).__name__})", fix) from None


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The method state of a weights file (``model_final.pt``) or of a training checkpoint (its ``method``)."""
    path = Path(path)
    if not path.is_file():
        raise CrosspanError(path, "no weights file", "train the model first (`crosspan train`)")
    state = safe_load(path, "retrain the run (`crosspan train`), or restore the file from a backup")
    if not isinstance(state, dict):
        raise CrosspanError(path, f"not a crosspan weights file (holds a {type(state).__name__})",
                            "point at a run folder written by `crosspan train`")
    return state.get("method", state) if "method" in state else state


def run_weights(run_dir: str | Path) -> Path:
    """The weights file of a run folder: ``model_final.pt``, else (a run still training) ``checkpoint_last.pt``."""
    run_dir = Path(run_dir)
    for name in WEIGHT_FILES:
        if (run_dir / name).is_file():
            return run_dir / name
    return run_dir / WEIGHT_FILES[0]


__all__ = ["WEIGHT_FILES", "load_weights", "run_weights", "safe_load"]
