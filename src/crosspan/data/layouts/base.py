"""The interface every dataset layout adapter implements, and the registry of adapters.

An adapter turns a folder into a list of :class:`ScanEntry` (one per scan). Adding a layout touches one file:
write a module with a ``Layout`` subclass decorated with :func:`register`, and import it in ``__init__``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

UNKNOWN = "unknown"
#: optional per-scan maps on the scan's own voxel grid, carried from a manifest into the catalog and the cache:
#: ``tissue`` (every tissue class, for label-map training) and ``pseudo_label`` (a transported/weak label for an
#: unlabeled scan); ``pseudo_weight`` is a per-scan scalar in [0, 1] that goes with ``pseudo_label``.
AUX_MAP_COLUMNS = ("tissue", "pseudo_label")
AUX_SCALAR_COLUMNS = ("pseudo_weight",)


def aux_fields(row: dict[str, str], base: Path) -> dict[str, str]:
    """The auxiliary columns of a manifest row: map paths resolved against ``base``, scalars as given."""
    out = {k: str(base / row[k]) for k in AUX_MAP_COLUMNS if (row.get(k) or "").strip()}
    out.update({k: row[k].strip() for k in AUX_SCALAR_COLUMNS if (row.get(k) or "").strip()})
    return out
CANONICAL_SEQUENCES = {"t1": "T1", "t1w": "T1", "venous": "T1", "t2": "T2", "t2w": "T2", "oop": "OOP",
                       "outphase": "OOP", "opposed": "OOP", "op": "OOP", "ip": "IP", "inphase": "IP"}


def canonical_sequence(name: str) -> str:
    """Map common spellings to the canonical names ``T1``, ``T2``, ``OOP``, ``IP``; keep extras as given."""
    key = name.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    return CANONICAL_SEQUENCES.get(key, name.strip())


@dataclass
class ScanEntry:
    """One scan as a layout sees it (before any file is opened)."""

    case_id: str
    patient_id: str
    center: str
    sequence: str
    image: Path
    label: Path | None = None
    split: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class Layout:
    """Base class: ``detect`` says whether a folder looks like this layout; ``scan`` lists its scans."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def detect(self, root: Path) -> bool:
        raise NotImplementedError

    def scan(self, root: Path) -> list[ScanEntry]:
        raise NotImplementedError


_REGISTRY: dict[str, type[Layout]] = {}


def register(cls: type[Layout]) -> type[Layout]:
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    _REGISTRY[cls.name] = cls
    return cls


def layouts() -> dict[str, type[Layout]]:
    return dict(_REGISTRY)


def center_from_case(case_id: str) -> str:
    """The center is the case-name prefix before the first ``_`` (PanSegData convention); else unknown."""
    if "_" in case_id:
        prefix = case_id.split("_", 1)[0]
        if prefix and not prefix.isdigit():
            return prefix
    return UNKNOWN
