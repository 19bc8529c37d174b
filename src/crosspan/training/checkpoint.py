"""Checkpoints: model, optimizer/scheduler/scaler, RNG states and step, written atomically; loaded with
``weights_only=True``."""

from __future__ import annotations

import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crosspan.core.errors import CrosspanError
from crosspan.methods.base import Method
from crosspan.core.atomic import atomic_path


def rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(), "torch": torch.get_rng_state(),
             "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "cached": float(cached)}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_tuples(state["python"]))
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuples(x: Any) -> Any:
    return tuple(_tuples(v) for v in x) if isinstance(x, (list, tuple)) else x


def save_checkpoint(path: str | Path, method: Method, step: int, extra: dict[str, Any] | None = None) -> None:
    state = {"step": step, "method": method.state_dict(), "training": method.training_state(),
             "rng": rng_state(), "extra": extra or {}}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path, method: Method) -> int:
    """Restore ``method`` and the RNGs from ``path``; returns the step to continue from."""
    path = Path(path)
    state = safe_load(path, "delete it to restart the run")
    if not isinstance(state, dict) or not {"method", "training", "rng", "step"} <= set(state):
        raise CrosspanError(path, "not a crosspan training checkpoint (keys missing)", "delete it to restart the run")
    method.load_state_dict(state["method"])
    method.load_training_state(state["training"])
    set_rng_state(state["rng"])
    return int(state["step"])


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise CrosspanError(path, "no weights file", "train the model first (`crosspan train`)")
    state = safe_load(path, "retrain the run (`crosspan train`), or restore the file from a backup")
    if not isinstance(state, dict):
        raise CrosspanError(path, f"not a crosspan weights file (holds a {type(state).__name__})",
                            "point at a run folder written by `crosspan train`")
    return state.get("method", state) if "method" in state else state


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
