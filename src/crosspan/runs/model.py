"""``model.json``: what a run was trained with (network, method, hyperparameters, domains, patch, schedule)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from crosspan.core.atomic import write_json
from crosspan.data.documents import Document, load_document

RUN_FIX = "point at a run folder written by `crosspan train`"


class Augment(Document):
    """The spatial augmentation of the run (``--mirror``, ``--elastic``)."""

    mirror: bool = False
    elastic: float = Field(default=0.0, ge=0.0, le=1.0)


class RunModel(Document):
    """``RUN_DIR/model.json``, written by ``crosspan train`` and read by predict, evaluation and ``--resume``."""

    network: str
    network_config: dict[str, Any]  # :func:`crosspan.models.network_config`
    method: str
    hparams: dict[str, Any] = Field(default_factory=dict)
    train_domains: list[str]
    patch_size: list[int]
    target_spacing: list[float]
    seed: int
    steps: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    plan_dir: str = ""
    augment: Augment | None = None  # runs older than the option have none: no augmentation
    world_size: int | None = None
    extended_from: int | None = None  # ``--resume --steps N``: the steps the run had before it was extended

    @field_validator("patch_size")
    @classmethod
    def _three_positive(cls, v: list[int]) -> list[int]:
        if len(v) != 3 or not all(p > 0 for p in v):
            raise ValueError(f"expected three positive sizes (z, y, x), got {v}")
        return v

    @classmethod
    def load(cls, run_dir: str | Path) -> RunModel:
        """``RUN_DIR/model.json``; a missing or bad file is one error naming it."""
        return load_document(cls, Path(run_dir) / "model.json", "model.json", RUN_FIX)

    def save(self, run_dir: str | Path) -> Path:
        """Write ``RUN_DIR/model.json`` atomically."""
        path = Path(run_dir) / "model.json"
        write_json(path, self.to_json())
        return path

    def augmentation(self) -> Augment:
        return self.augment or Augment()


__all__ = ["Augment", "RunModel"]
