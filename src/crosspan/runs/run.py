"""Open a run folder: its :class:`RunModel`, its :class:`~crosspan.preprocess.plan.Plan` and the method rebuilt
with its trained weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crosspan.core.errors import CrosspanError
from crosspan.methods.base import Method, trainable_method
from crosspan.models import build_network
from crosspan.preprocess.plan import Plan
from crosspan.runs.model import RUN_FIX, RunModel
from crosspan.runs.weights import load_weights, run_weights


def build_method(model: RunModel) -> Method:
    """Network + method (untrained) from a run's ``model.json``."""
    net = build_network(model.network_config)
    return trainable_method(model.method)(net, model.train_domains, model.hparams)


@dataclass
class Run:
    """A trained run: the method (weights loaded, eval mode, on CPU), its model.json and plan.json."""

    method: Method
    model: RunModel
    plan: Plan
    folder: Path


def open_run(run_dir: str | Path) -> Run:
    """Read ``model.json`` and ``plan.json`` of ``run_dir`` and load its weights into the rebuilt method."""
    run_dir = Path(run_dir)
    for name in ("model.json", "plan.json"):
        if not (run_dir / name).is_file():
            raise CrosspanError(run_dir / name, "missing", RUN_FIX)
    model, plan = RunModel.load(run_dir), Plan.load(run_dir / "plan.json")
    method = build_method(model)
    method.load_state_dict(load_weights(run_weights(run_dir)))
    return Run(method=method.eval(), model=model, plan=plan, folder=run_dir)


__all__ = ["Run", "build_method", "open_run"]
