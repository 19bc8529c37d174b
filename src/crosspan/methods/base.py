"""The Method interface (after DomainBed, Gulrajani & Lopez-Paz, ICLR 2021) and its registry.

A method owns its network(s) and optimizer. The engine gives it batches and never needs to know which method
runs:

- ``labeled``: ``{"image": float (B, C, Z, Y, X), "label": long (B, 1, Z, Y, X) in {0, 1},
  "domain": long (B,) index into ``domains``}``;
- ``unlabeled`` (SSL methods only, else ``None``): ``{"image": ..., "domain": ...}``.

``update`` runs one optimisation step and returns scalar logs; ``predict`` maps an image batch to class
probabilities (B, 2, Z, Y, X). Zero-shot methods implement ``predict`` only. Hyperparameters live in
``default_hparams`` (defaults from the method's paper) and can be overridden from the CLI or a benchmark spec.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import torch
from torch import nn

from crosspan.data.errors import CrosspanError
from crosspan.methods.hparams import check_value

Batch = dict[str, torch.Tensor]


class Method(nn.Module):
    """Base class. Subclasses set ``name``, ``default_hparams`` and implement ``update`` and ``predict``."""

    name: ClassVar[str] = ""
    default_hparams: ClassVar[dict[str, Any]] = {}
    needs_unlabeled: ClassVar[bool] = False
    trainable: ClassVar[bool] = True
    #: forward passes of the network per training step (a fair comparison reports compute per step)
    forward_passes: ClassVar[int] = 1

    @classmethod
    def unavailable_reason(cls, hparams: dict[str, Any] | None = None) -> str | None:
        """Why this method cannot run here with ``hparams`` (a missing package or weights), or ``None``."""
        return None

    @classmethod
    def uses_oracle(cls, hparams: dict[str, Any]) -> bool:
        """Whether results with ``hparams`` use ground-truth-derived test-time information (prompts from the test
        labels): a benchmark marks them ``oracle``. Default: no."""
        return False

    def __init__(self, network: nn.Module, domains: list[str], hparams: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.network = network
        self.domains = list(domains)
        self.hparams = resolve_hparams(type(self), hparams)

    def update(self, labeled: Batch, unlabeled: Batch | None = None) -> dict[str, float]:
        raise NotImplementedError

    def setup_training(self, total_steps: int, amp: str = "none") -> None:
        """Called once by the engine before the first ``update`` (optimizer, LR schedule, mixed precision)."""

    def training_state(self) -> dict[str, Any]:
        """Optimizer/scaler/schedule state for a checkpoint (network weights travel in ``state_dict``)."""
        return {}

    def load_training_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`training_state` returned."""

    def volume(self, image: torch.Tensor) -> contextlib.AbstractContextManager:
        """Entered by the sliding window with the whole (1, C, Z, Y, X) volume before its first tile and left after
        its last: a method that decides once per volume (Dual-Norm's branch) does it here. Default: nothing."""
        return contextlib.nullcontext()

    @torch.no_grad()
    def predict(self, image: torch.Tensor) -> torch.Tensor:
        """Class probabilities (B, 2, ...) for an image batch; the default runs the network and a softmax."""
        out = self.network(image)
        if isinstance(out, (list, tuple)):
            out = out[0]
        if out.ndim == image.ndim + 1:  # deep supervision stacked on dim 1
            out = out[:, 0]
        return torch.softmax(out.float(), dim=1)


_REGISTRY: dict[str, type[Method]] = {}


def register_method(cls: type[Method]) -> type[Method]:
    """Class decorator: make ``cls`` available as ``crosspan train --method cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    _REGISTRY[cls.name] = cls
    return cls


def method_names() -> list[str]:
    _load_builtin_methods()
    return sorted(_REGISTRY)


def get_method(name: str) -> type[Method]:
    _load_builtin_methods()
    if name not in _REGISTRY:
        raise CrosspanError(None, f"unknown method '{name}'", f"use one of: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def resolve_hparams(cls: type[Method], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults of ``cls`` updated by ``overrides``; unknown keys are an error that lists the known ones."""
    hp = dict(cls.default_hparams)
    for k, v in (overrides or {}).items():
        if k not in hp:
            known = ", ".join(sorted(hp)) or "none"
            raise CrosspanError(None, f"method '{cls.name}' has no hyperparameter '{k}'", f"use one of: {known}")
        value = _coerce(cls.name, k, v, hp[k])
        check_value(cls, k, value, hp[k])  # finite, inside its declared bound (crosspan.methods.hparams)
        hp[k] = value
    return hp


def _coerce(method: str, key: str, value: Any, default: Any) -> Any:
    """Give ``value`` (often a string from the command line) the type of the default."""
    if default is None or isinstance(value, type(default)):
        return value
    if isinstance(default, bool):
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
    else:
        try:
            return type(default)(value)
        except (TypeError, ValueError):
            pass
    raise CrosspanError(None, f"hyperparameter '{key}' of method '{method}' expects {type(default).__name__}, "
                        f"got {value!r}", f"write --hp {key}=<{type(default).__name__}>")


def _load_builtin_methods() -> None:
    """Import the modules that register the built-in methods (kept lazy so importing crosspan stays fast)."""
    import importlib
    import pkgutil

    import crosspan.methods as pkg

    for info in pkgutil.walk_packages(pkg.__path__, prefix="crosspan.methods."):
        if info.name.endswith(".base"):
            continue
        importlib.import_module(info.name)
