"""Score a training run's checkpoints on chosen domains (``crosspan train --eval-every N --eval-domains ...``).

At each scored step the current weights predict the chosen cases exactly as ``crosspan predict`` does (source
image -> plan preprocessing -> sliding window -> source geometry -> postprocessing), the masks are scored as
``crosspan evaluate`` does, and the rows are appended to ``<run>/checkpoints.csv`` with ``checkpoint`` (the step)
and ``split``: validation cases of the plan (``val``) and, when asked, its test cases (``test``, marked
``oracle``: choosing a checkpoint by them peeks at the test labels). The weights of each scored step are kept in
``<run>/checkpoints/step_<N>.pt`` so any point of the curve can be predicted again.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch

from crosspan.core.atomic import atomic_path
from crosspan.core.errors import CrosspanError
from crosspan.data.catalog import load_catalog
from crosspan.evaluation.evaluate import evaluate_predictions
from crosspan.inference.predict import predict_case
from crosspan.methods.base import Method
from crosspan.preprocess.plan import Plan
from crosspan.runs.model import RunModel

TABLE = "checkpoints.csv"


def eval_cases(plan_dir: Path, plan: Plan, domains: Sequence[str], test: bool) -> pd.DataFrame:
    """Catalog rows of the plan's val (and test) cases in ``domains`` (``CENTER:SEQ``), with a ``split`` column."""
    path = plan_dir / "catalog.csv"
    if not path.is_file():
        raise CrosspanError(path, "plan folder has no catalog copy", "preprocess again with `crosspan preprocess`")
    cat = load_catalog(path)
    cat["domain"] = cat["center"].astype(str) + ":" + cat["sequence"].astype(str)
    unknown = sorted(set(domains) - set(cat["domain"]))
    if unknown:
        raise CrosspanError(path, f"--eval-domains {', '.join(unknown)} not in the plan's catalog",
                            f"use some of {', '.join(sorted(cat['domain'].unique()))}")
    frames = []
    for split in ("val", "test") if test else ("val",):
        ids = set(getattr(plan.cases, split))
        frames.append(cat[cat["case_id"].astype(str).isin(ids) & cat["domain"].isin(domains)].assign(split=split))
    rows = pd.concat(frames, ignore_index=True)
    if rows.empty:
        raise CrosspanError(plan_dir, f"no {'val or test' if test else 'val'} cases in {', '.join(domains)}",
                            "preprocess with a splits JSON whose fold has val/test cases there, or pick other "
                            "--eval-domains")
    return rows


class CheckpointScorer:
    """Callable ``(method, step)`` for the training loop; appends rows to ``run_dir/checkpoints.csv``."""

    def __init__(self, run_dir: Path, plan_dir: Path, plan: Plan, model: RunModel,
                 domains: Sequence[str], test: bool = True, device: str = "cpu", run: str = "") -> None:
        self.run_dir, self.plan, self.model, self.device = Path(run_dir), plan, model, device
        self.cases = eval_cases(Path(plan_dir), plan, domains, test)
        self.base = Path(plan_dir)
        self.run = run or self.run_dir.name

    def __call__(self, method: Method, step: int) -> pd.DataFrame:
        keep = self.run_dir / "checkpoints" / f"step_{step:06d}.pt"
        keep.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(keep) as tmp:
            torch.save(method.state_dict(), tmp)
        was_training = method.training
        method.eval()
        try:
            rows = self.score(method, step)
        finally:
            method.train(was_training)
        out = self.run_dir / TABLE
        old = pd.read_csv(out, dtype={"case_id": str, "run": str}) if out.is_file() else None
        if old is not None:
            old = old[old["checkpoint"] != step]  # a resumed run redoes the step
        table = pd.concat([old, rows], ignore_index=True) if old is not None else rows
        with atomic_path(out) as tmp:
            table.to_csv(tmp, index=False)
        return rows

    def score(self, method: Method, step: int) -> pd.DataFrame:
        """Predict and score every chosen case with the current weights."""
        frames = []
        with tempfile.TemporaryDirectory(prefix="crosspan-ckpt-") as tmp, torch.no_grad():  # not inference_mode:
            # its tensors (e.g. cached buffers) could not be used by the training steps that follow
            for split, cases in self.cases.groupby("split", sort=True):
                pred = Path(tmp) / split
                for r in cases.itertuples(index=False):
                    image = str(r.image) if Path(str(r.image)).is_absolute() else str(self.base / str(r.image))
                    predict_case(method, self.model, self.plan, image, pred, str(r.case_id), device=self.device)
                df = evaluate_predictions(cases.drop(columns=["split", "domain"]).assign(split="test"), pred,
                                          self.model.method, run=self.run, seed=self.model.seed,
                                          train_domains=list(self.model.train_domains), cases="test",
                                          oracle=split == "test", workers=1, progress=False, base=self.base)
                frames.append(df.assign(checkpoint=step, split=split))
        return pd.concat(frames, ignore_index=True)
