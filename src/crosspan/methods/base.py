"""The Method interface (after DomainBed, Gulrajani & Lopez-Paz, ICLR 2021) and its registry.

A method owns its network(s) and optimizer. The engine gives it batches and never needs to know which method
runs:

- ``labeled``: ``{"image": float (B, C, Z, Y, X), "label": long (B, 1, Z, Y, X) in {0, 1},
  "domain": long (B,) index into ``domains``}``;
- ``unlabeled`` (SSL methods only, else ``None``): ``{"image": ..., "domain": ...}``.

``update`` runs one optimisation step and returns scalar logs; ``predict`` maps an image batch to class
probabilities (B, 2, Z, Y, X). Zero-shot models (foundation models run as they are) are a :class:`ZeroShotModel`
instead: built from ``(hparams, device)``, no network to train. Hyperparameters live in ``default_hparams``
(defaults from the method's paper) and can be overridden from the CLI or a benchmark spec.

The registry is the one place that knows a method's facts, each declared on its class (:class:`MethodFacts`):
its kind (trainable or zero-shot), whether it needs unlabeled cases, what it trains on (images or tissue label
maps), its paper, its family and place in result tables, whether results use ground-truth prompts
(``uses_oracle``) and why it cannot run here (``unavailable_reason``). Nothing outside the registry lists method
names: a new method is one file with a ``@register_method`` class.
"""

from __future__ import annotations

import contextlib
import re
import sys
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np
import torch
from torch import nn

from crosspan.core.errors import CrosspanError
from crosspan.methods.hparams import check_value

Batch = dict[str, torch.Tensor]


Kind = Literal["trainable", "zero-shot"]
TrainingInput = Literal["images", "label-maps"]
#: method families in the order result tables show them, with the words ``crosspan methods`` prints
FAMILIES: dict[str, str] = {"supervised": "supervised", "dg": "domain generalization", "ssl": "semi-supervised",
                            "labelmap": "label-map training", "foundation": "zero-shot"}
YEAR_PAREN = re.compile(r"\(([^()]*\b(?:19|20)\d\d\b[^()]*)\)")


class MethodFacts:
    """What the registry knows about a method, declared on its class (trainable and zero-shot alike)."""

    name: ClassVar[str] = ""
    kind: ClassVar[Kind] = "trainable"
    default_hparams: ClassVar[dict[str, Any]] = {}
    #: SSL: the engine also draws a batch from the split's ``unlabeled`` cases
    needs_unlabeled: ClassVar[bool] = False
    #: ``label-maps``: batches carry the tissue label map (key ``tissue``); only label-map protocols train it
    training_input: ClassVar[TrainingInput] = "images"
    #: takes prompts (boxes, points) besides the image
    prompted: ClassVar[bool] = False
    #: the citation; empty: the first parenthesis with a year in the module's docstring (see :meth:`reference`)
    paper: ClassVar[str] = ""
    #: a key of :data:`FAMILIES`; empty: the method's package under ``crosspan.methods`` (top level: supervised)
    family: ClassVar[str] = ""
    #: place inside its family in result tables (ties: by name)
    table_order: ClassVar[int] = 100
    #: hyperparameters that count the steps before the method's own term acts (burn-in, warm-up): a run no longer
    #: than one of them trains plain ERM, and ``crosspan train`` says so (:meth:`dormant_reason`)
    onset_hparams: ClassVar[tuple[str, ...]] = ()
    #: for a hyperparameter added with a default that changes what the method did before it existed: the value
    #: that reproduces the older runs (a run folder's model.json without the key trained as that value; a new key
    #: that is not listed is taken to default to the old behaviour). ``benchmark run|status`` compare with it.
    legacy_hparams: ClassVar[dict[str, Any]] = {}

    @classmethod
    def dormant_reason(cls, hparams: dict[str, Any], steps: int) -> str | None:
        """Why this method with ``hparams`` would train as plain ERM for a run of ``steps`` steps, or ``None``."""
        late = [k for k in cls.onset_hparams if int(hparams.get(k, 0)) >= steps]
        if not late:
            return None
        return (f"{', '.join(f'{k}={int(hparams[k])}' for k in late)} >= the run's {steps} steps: its own term never "
                "acts and it trains as ERM")

    @classmethod
    def unavailable_reason(cls, hparams: dict[str, Any] | None = None) -> str | None:
        """Why this method cannot run here with ``hparams`` (a missing package or weights), or ``None``."""
        return None

    @classmethod
    def uses_oracle(cls, hparams: dict[str, Any]) -> bool:
        """Whether results with ``hparams`` use ground-truth-derived test-time information (prompts from the test
        labels): a benchmark marks them ``oracle``. Default: no."""
        return False

    @classmethod
    def family_name(cls) -> str:
        """:attr:`family`, else the package the class lives in (``dg``, ``ssl``, ...; top level: supervised)."""
        if cls.family:
            return cls.family
        parts = cls.__module__.split(".")
        pkg = parts[2] if len(parts) > 3 and parts[:2] == ["crosspan", "methods"] else "supervised"
        return pkg if pkg in FAMILIES else "supervised"

    @classmethod
    def kind_text(cls) -> str:
        """What ``crosspan methods`` prints: ``zero-shot, box-prompted``, ``domain generalization``, ..."""
        if cls.kind == "zero-shot":
            return "zero-shot, box-prompted" if cls.prompted else "zero-shot, automatic"
        return FAMILIES[cls.family_name()] + (", prompted" if cls.prompted else "")

    @classmethod
    def reference(cls) -> str:
        """:attr:`paper`, else the module docstring's first parenthesis with a year, else its first sentence."""
        if cls.paper:
            return cls.paper
        module = sys.modules.get(cls.__module__)
        doc = (module.__doc__ if module else None) or cls.__doc__ or ""
        head = " ".join(doc.strip().split("\n\n")[0].split())
        found = YEAR_PAREN.search(head)
        if found:
            return found.group(1)
        first = head.split(". ")[0]
        return first if len(first) <= 100 else first[:97] + "..."


class Method(MethodFacts, nn.Module):
    """A trainable method. Subclasses set ``name``, ``default_hparams`` and implement ``update`` and ``predict``."""

    kind: ClassVar[Kind] = "trainable"
    #: forward passes of the network per training step (a fair comparison reports compute per step)
    forward_passes: ClassVar[int] = 1
    #: prompt channels appended to the image input (prompted methods; 0: none)
    prompt_inputs: ClassVar[int] = 0

    def __init__(self, network: nn.Module, domains: list[str], hparams: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.network = network
        self.domains = list(domains)
        self.hparams = resolve_hparams(type(self), hparams)

    def update(self, labeled: Batch, unlabeled: Batch | None = None) -> dict[str, float]:
        raise NotImplementedError

    def test_prompts(self, label: np.ndarray) -> np.ndarray:
        """(``prompt_inputs``, Z, Y, X) prompt channels built from a preprocessed (Z, Y, X) label (prompted
        methods; :mod:`crosspan.inference.pipeline` appends them to the image)."""
        raise NotImplementedError(f"{self.name} takes no prompt channels")

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


class ZeroShotModel(MethodFacts):
    """A model run as it is, no training (foundation models, packaged segmenters): built from ``(hparams,
    device)``; box-prompted ones implement ``segment(volume, boxes)``
    (:class:`crosspan.methods.foundation.common.ZeroShotMethod`), automatic ones run a package on a scan file
    (:class:`crosspan.methods.foundation.organ_models.OrganSegmenter`). ``crosspan predict --method NAME`` runs it."""

    kind: ClassVar[Kind] = "zero-shot"
    family: ClassVar[str] = "foundation"

    def __init__(self, hparams: dict[str, Any] | None = None, device: str = "cpu") -> None:
        self.hparams = resolve_hparams(type(self), hparams)
        self.device = device


MethodClass = type[Method] | type[ZeroShotModel]
C = TypeVar("C", type[Method], type[ZeroShotModel])
_REGISTRY: dict[str, MethodClass] = {}


def register_method(cls: C) -> C:
    """Class decorator: make ``cls`` available by name (``crosspan train --method`` for a trainable method,
    ``crosspan predict --method`` for a zero-shot model; ``crosspan methods`` lists both)."""
    if not issubclass(cls, (Method, ZeroShotModel)):
        raise TypeError(f"{cls.__name__} is neither a Method nor a ZeroShotModel")
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.family_name() not in FAMILIES:
        raise ValueError(f"{cls.__name__}.family {cls.family!r} is not one of {', '.join(FAMILIES)}")
    _REGISTRY[cls.name] = cls
    return cls


def method_names() -> list[str]:
    _load_builtin_methods()
    return sorted(_REGISTRY)


def get_method(name: str) -> MethodClass:
    """The registered class of ``name`` (trainable or zero-shot); unknown names are an error listing the known."""
    _load_builtin_methods()
    if name not in _REGISTRY:
        raise CrosspanError(None, f"unknown method '{name}'", f"use one of: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def trainable_method(name: str) -> type[Method]:
    """The class of trainable method ``name``; a zero-shot model is an error that says how to run it."""
    cls = get_method(name)
    if not issubclass(cls, Method):
        raise CrosspanError(None, f"'{name}' is a zero-shot model: it is not trained",
                            f"run it with `crosspan predict --method {name} DATA -o OUT`")
    return cls


def zero_shot_model(name: str) -> type[ZeroShotModel]:
    """The class of zero-shot model ``name``; a trainable method is an error that says how to predict with it."""
    cls = get_method(name)
    if not issubclass(cls, ZeroShotModel):
        raise CrosspanError(None, f"'{name}' is a trained method", "predict from its run folder: "
                            "`crosspan predict RUN_DIR DATA -o OUT`")
    return cls


def registered_kind(name: str) -> Kind | None:
    """``trainable`` or ``zero-shot`` for a registered ``name``; ``None`` when no class is registered by it."""
    _load_builtin_methods()
    cls = _REGISTRY.get(name)
    return cls.kind if cls is not None else None


def label_map_methods() -> list[str]:
    """Registered methods that train on tissue label maps (``training_input = "label-maps"``)."""
    _load_builtin_methods()
    return sorted(n for n, cls in _REGISTRY.items() if cls.training_input == "label-maps")


def table_order(names: list[str] | set[str]) -> list[str]:
    """``names`` in the order result tables show methods: by family (:data:`FAMILIES`), then each class's
    ``table_order``, then name; names that are not registered (spec aliases, plugins) last, by name."""
    _load_builtin_methods()
    family_rank = {f: i for i, f in enumerate(FAMILIES)}

    def key(name: str) -> tuple[int, int, str]:
        cls = _REGISTRY.get(name)
        if cls is None:
            return len(FAMILIES), 0, name
        return family_rank[cls.family_name()], cls.table_order, name

    return sorted(set(names), key=key)


def resolve_hparams(cls: type[MethodFacts], overrides: dict[str, Any] | None) -> dict[str, Any]:
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
    from pathlib import Path

    # the package's folder, not the package: crosspan.methods imports this module
    for info in pkgutil.walk_packages([str(Path(__file__).parent)], prefix="crosspan.methods."):
        if info.name.endswith(".base"):
            continue
        importlib.import_module(info.name)
