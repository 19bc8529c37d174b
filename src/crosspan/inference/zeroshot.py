"""`crosspan predict --method NAME`: zero-shot, box-prompted foundation models on the same cases as trained ones
(packaged organ segmenters, which need no prompt, run in :mod:`crosspan.inference.zeroshot_organs`).

Boxes come from the ground truth (``oracle-box``, ``jittered-box``: the predictions folder is marked oracle), or
from a trained crosspan run's prediction (``model-box``: fully automatic). Masks are written in the source
geometry (the models work on the source grid's axial slices, so nothing is resampled), with a ``zeroshot.json``
that records the method, its hyperparameters and ``oracle``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from crosspan.core.atomic import write_json
from crosspan.core.errors import CrosspanError
from crosspan.core.parallel import progress_bar
from crosspan.core.seeding import rng
from crosspan.data.io import read_image, write_image
from crosspan.inference.inputs import collect_inputs, collect_labeled
from crosspan.inference.ledger import PredictionLedger, file_stamp
from crosspan.inference.pipeline import load_run, segment
from crosspan.inference.postprocess import parse_postprocess, postprocess
from crosspan.methods.base import ZeroShotModel, get_method, resolve_hparams, zero_shot_model
from crosspan.methods.foundation.common import ZeroShotMethod
from crosspan.methods.foundation.organ_models import OrganSegmenter
from crosspan.methods.foundation.prompts import Box2D, is_oracle, jittered_boxes, slice_boxes
from crosspan.runs.run import Run
from crosspan.runs.weights import run_weights


def is_zero_shot(name: str) -> bool:
    """Whether registered method ``name`` is a zero-shot model (its class says so)."""
    return get_method(name).kind == "zero-shot"


def build_zero_shot(name: str, hp: dict[str, Any] | None = None, device: str = "cpu") -> ZeroShotModel:
    """Zero-shot model ``name`` with ``hp``; a trained method is an error that says how to predict with it."""
    cls = zero_shot_model(name)
    resolve_hparams(cls, hp)  # unknown keys fail before the model loads
    return cls(hp, device)


def model_box_mask(run: Run, image: str, device: str) -> np.ndarray:
    """A trained run's post-processed mask of ``image`` in its source geometry (the ``model-box`` source)."""
    return segment(run.method, run.model, run.plan, image, device=device).mask


def prompt_boxes(method: ZeroShotMethod, case_id: str, label: str, image: str, run: Run | None,
                 device: str) -> dict[int, Box2D]:
    """Per-slice boxes for one case from the method's ``prompt`` hyperparameter."""
    hp = method.hparams
    if hp["prompt"] == "model-box" and run is not None:
        return slice_boxes(model_box_mask(run, image, device))
    if not label:
        raise CrosspanError(image, f"prompt '{hp['prompt']}' needs the case's ground-truth label",
                            "give a catalog or dataset with labels, or use --hp prompt=model-box --hp box_model=RUN")
    mask, _ = read_image(label)
    mask = mask > 0
    if hp["prompt"] == "jittered-box":
        return jittered_boxes(mask, float(hp["jitter"]), rng("zeroshot-jitter", hp["seed"], case_id))
    return slice_boxes(mask)


def predict_zero_shot(name: str, hp: dict[str, Any] | None, source: str | Path, out_dir: str | Path,
                      cases: str = "test", splits: str | None = None, fold: int | str = 0, device: str = "cpu",
                      post: str = "lcc", progress: bool = True, resume: bool = True) -> list[Path]:
    """Segment every case of ``source`` with zero-shot method ``name``; writes masks and ``zeroshot.json``.
    ``resume``: skip the cases this folder already holds from the same model and settings
    (:mod:`crosspan.inference.ledger`)."""
    mode, min_ml = parse_postprocess(post)
    method = build_zero_shot(name, hp, device)
    if isinstance(method, OrganSegmenter):  # automatic: no prompt, no label needed
        from crosspan.inference.zeroshot_organs import predict_organs

        return predict_organs(method, collect_inputs(source, cases, splits, fold), out_dir, device, post, progress,
                              resume)
    if not isinstance(method, ZeroShotMethod):
        raise CrosspanError(None, f"zero-shot model '{name}' is neither box-prompted nor a packaged segmenter",
                            "subclass ZeroShotMethod (segment with boxes) or OrganSegmenter (a package's CLI)")
    items = collect_labeled(source, cases, splits, fold)
    if not items:
        raise CrosspanError(source, f"no images to predict (cases={cases})", "use --cases all or check the input")
    run: Run | None = None
    if method.hparams["prompt"] == "model-box":
        if not method.hparams["box_model"]:
            raise CrosspanError(None, "prompt 'model-box' needs a trained run", "add --hp box_model=/path/to/run_dir")
        run = load_run(method.hparams["box_model"], device)
    out_dir = Path(out_dir)
    ledger = PredictionLedger(out_dir, {
        "method": name, "hparams": method.hparams, "post": post,
        "box_model": file_stamp(run_weights(method.hparams["box_model"])) if run is not None else None}, resume)
    written, seconds = [], []
    with progress_bar(disable=not progress) as bar:
        task = bar.add_task(f"{name} ({method.hparams['prompt']})", total=len(items))
        for case_id, image, label in items:
            out = out_dir / f"{case_id}.nii.gz"
            entry = ledger.done(case_id, image, [out])
            if entry is None:
                arr, props = read_image(image)
                boxes = prompt_boxes(method, case_id, label, image, run, device)
                t0 = time.perf_counter()
                mask = method.segment(arr, boxes) if boxes else np.zeros(arr.shape, dtype=bool)
                entry = {"seconds": time.perf_counter() - t0}
                mask = postprocess(mask, mode, props.voxel_volume_ml(), min_ml)
                write_image(mask.astype(np.uint8), props, out)
                ledger.record(case_id, image, **entry)
            seconds.append(float(entry.get("seconds", np.nan)))
            written.append(out)
            bar.advance(task)
    write_json(out_dir / "zeroshot.json", {
        "method": name, "hparams": method.hparams, "oracle": is_oracle(method.hparams["prompt"]),
        "cases": len(written), "seconds_per_volume": float(np.nanmean(seconds)), "device": device})
    return written


def oracle_prompt(name: str, hp: dict[str, Any] | None) -> bool:
    """Whether zero-shot method ``name`` with ``hp`` uses ground-truth prompts (its evaluate step needs
    ``--oracle``): the hook a benchmark runner calls when it writes the evaluate command."""
    cls = get_method(name)
    return cls.uses_oracle(resolve_hparams(cls, hp))


def skip_reason(name: str, hp: dict[str, Any] | None) -> str | None:
    """Why zero-shot method ``name`` cannot run here (``None``: it can): the hook a benchmark runner calls to mark
    the method skipped instead of failing its predict step (MedSAM2 without a checkpoint, MRSegmentator without
    its weights, a missing package). The method's own ``unavailable_reason`` answers."""
    cls = get_method(name)
    resolve_hparams(cls, hp)  # an unknown key is an error, not a reason to skip
    return cls.unavailable_reason(hp)


def read_zero_shot_info(pred_dir: str | Path) -> dict[str, Any] | None:
    """``zeroshot.json`` of a predictions folder (``None`` for a trained model's predictions)."""
    path = Path(pred_dir) / "zeroshot.json"
    return json.loads(path.read_text()) if path.is_file() else None


__all__ = ["build_zero_shot", "collect_labeled", "is_zero_shot", "oracle_prompt", "predict_zero_shot",
           "prompt_boxes", "read_zero_shot_info", "skip_reason"]
