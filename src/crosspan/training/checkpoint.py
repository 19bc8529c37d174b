"""Checkpoints: model, optimizer/scheduler/scaler, RNG states and step, written atomically; loaded with
``weights_only=True`` (:func:`crosspan.runs.weights.safe_load`)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crosspan.core.atomic import atomic_path
from crosspan.core.errors import CrosspanError
from crosspan.methods.base import Method
from crosspan.runs.weights import safe_load


def rng_state() -> dict[str, Any]:
    legacy = np.random.get_state()
    assert isinstance(legacy, tuple)  # numpy's global generator: the (name, keys, pos, has_gauss, cached) form
    name, keys, pos, has_gauss, cached = legacy
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
