"""`crosspan predict`: a self-contained run folder + images -> masks in the exact source geometry."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from crosspan.core.atomic import write_json
from crosspan.core.errors import CrosspanError
from crosspan.core.parallel import progress_bar
from crosspan.data.guards import check_case_ids, inside, refuse_overwrite
from crosspan.data.io import write_image
from crosspan.inference.inputs import collect_inputs, collect_labeled
from crosspan.inference.ledger import PredictionLedger, file_stamp
from crosspan.inference.pipeline import load_run, segment
from crosspan.inference.plancache import PlanCache
from crosspan.inference.postprocess import parse_postprocess
from crosspan.inference.roi import ROI_MODES, RoiReport
from crosspan.methods.base import Method
from crosspan.preprocess.plan import Plan
from crosspan.runs.model import RunModel
from crosspan.runs.weights import run_weights

log = logging.getLogger(__name__)


def predict_case(method: Method, model: RunModel, plan: Plan, image: str, out_dir: Path,
                 case_id: str, overlap: float = 0.5, tta: bool = False, post: str = "lcc",
                 save_probabilities: bool = False, device: str = "cpu", amp: str = "none", roi: str = "none",
                 reports: dict[str, RoiReport] | None = None, roi_zoom: float = 1.0, label: str = "",
                 cache: PlanCache | None = None) -> Path:
    """Predict one image (:func:`crosspan.inference.pipeline.segment`) and write ``out_dir/<case_id>.nii.gz`` in
    the source geometry; with ``roi="auto"``/``"aligned"`` the coarse-to-fine window's report is stored in
    ``reports[case_id]``; with ``cache`` a case cached under the run's plan skips preprocessing."""
    seg = segment(method, model, plan, image, label=label, overlap=overlap, tta=tta, post=post, device=device,
                  amp=amp, roi=roi, roi_zoom=roi_zoom, cache=cache)
    if reports is not None and seg.roi is not None:
        reports[case_id] = seg.roi
    out = write_image(seg.mask.astype(np.uint8), seg.source, inside(out_dir, f"{case_id}.nii.gz"))
    if save_probabilities:
        write_image(seg.probability.astype(np.float32), seg.source,
                    inside(out_dir, "probabilities", f"{case_id}.nii.gz"))
    return out


def predict(run_dir: str | Path, source: str | Path, out_dir: str | Path, overlap: float = 0.5, tta: bool = False,
            post: str = "lcc", save_probabilities: bool = False, cases: str = "test", splits: str | None = None,
            device: str = "cpu", amp: str = "none", progress: bool = True, fold: int | str = 0, roi: str = "none",
            reports: dict[str, RoiReport] | None = None, roi_zoom: float = 1.0, use_cache: bool = True,
            cache_stats: dict[str, int] | None = None, resume: bool = True) -> list[Path]:
    """Masks for every input (see :func:`predict_case`); raises before writing anything on a bad option.
    ``use_cache``: take the cases cached under the run's plan from the cache (:mod:`crosspan.inference.plancache`);
    ``cache_stats`` receives ``{"cached": n, "preprocessed": m, "resumed": k}``. ``resume``: skip the cases
    this folder already holds from the same weights and settings (:mod:`crosspan.inference.ledger`)."""
    parse_postprocess(post)
    if roi not in ROI_MODES:
        raise CrosspanError(None, f"unknown --roi '{roi}'",
                            "use --roi none (full window), auto (coarse-to-fine, exact) or fast (may crop)")
    if not 1.0 <= roi_zoom <= 8.0:
        raise CrosspanError(None, f"--roi-zoom {roi_zoom} out of range", "use a factor from 1 (no shrinking) to 8")
    run = load_run(run_dir, device)
    method, model, plan = run.method, run.model, run.plan
    items = collect_inputs(source, cases, splits, fold)
    if not items:
        raise CrosspanError(source, f"no images to predict (cases={cases})", "use --cases all or check the input")
    labels = prompt_labels(method, source, cases, splits, fold, roi)
    out_dir = Path(out_dir)
    check_case_ids([c for c, _ in items], source)
    ours = [p for c, _ in items for p in (out_dir / f"{c}.nii.gz", out_dir / "probabilities" / f"{c}.nii.gz")]
    refuse_overwrite(ours, [i for _, i in items], "write the masks to their own folder (-o), not the images' folder")
    existed = {p for p in ours if p.exists()}
    cache = PlanCache.of_run(model, plan) if use_cache else None
    ledger = PredictionLedger(out_dir, {
        "weights": file_stamp(run_weights(run_dir)), "overlap": overlap, "tta": tta, "post": post, "roi": roi,
        "roi_zoom": roi_zoom, "amp": amp, "save_probabilities": save_probabilities,
        "prompts": {c: file_stamp(lab) for c, lab in labels.items()}}, resume)
    written, resumed = [], 0
    try:
        with progress_bar(disable=not progress) as bar, torch.inference_mode():
            task = bar.add_task("predicting", total=len(items))
            for case_id, image in items:
                mask = out_dir / f"{case_id}.nii.gz"
                outputs = [mask] + ([out_dir / "probabilities" / f"{case_id}.nii.gz"] if save_probabilities else [])
                entry = ledger.done(case_id, image, outputs)
                if entry is not None:
                    resumed += 1
                    if reports is not None and entry.get("roi"):
                        reports[case_id] = RoiReport.from_dict(entry["roi"])
                    written.append(mask)
                else:
                    written.append(predict_case(method, model, plan, image, out_dir, case_id, overlap, tta, post,
                                                save_probabilities, device, amp, roi, reports, roi_zoom,
                                                labels.get(case_id, ""), cache))
                    rep = reports.get(case_id) if reports is not None else None
                    ledger.record(case_id, image, **({"roi": rep.to_dict()} if rep is not None else {}))
                bar.advance(task)
    except Exception:  # a failed run leaves none of its own masks behind (files from before stay)
        for p in ours:
            if p not in existed:
                p.unlink(missing_ok=True)
        ledger.forget([c for c, _ in items if out_dir / f"{c}.nii.gz" not in existed])
        raise
    if resumed:
        log.info("resumed: %d of %d case(s) already predicted with these weights and settings", resumed,
                 len(written))
    hits = cache.hits if cache is not None else 0
    log.info("plan cache: %d of %d case(s) taken from the cache", hits, len(written) - resumed)
    if cache_stats is not None:
        cache_stats.update(cached=hits, preprocessed=len(written) - resumed - hits, resumed=resumed)
    if labels:  # the predictions used ground-truth prompts: say so next to them, as zero-shot runs do
        write_json(out_dir / "prompts.json", {"method": model.method, "prompt": method.hparams["prompt"],
                                              "oracle": True, "cases": len(written)})
    return written


def prompt_labels(method: Method, source: str | Path, cases: str, splits: str | None, fold: int | str,
                  roi: str) -> dict[str, str]:
    """Case -> label path when ``method`` is prompted from the test labels (prompt-unet, oracle prompt), else {}."""
    if not (method.prompt_inputs and method.uses_oracle(method.hparams)):
        return {}
    prompt = method.hparams["prompt"]
    if roi != "none":
        raise CrosspanError(None, f"--roi {roi} cannot carry the prompt channels of '{prompt}'", "use --roi none")
    labels = {c: lab for c, _, lab in collect_labeled(source, cases, splits or None, fold)}
    missing = sorted(c for c, lab in labels.items() if not lab)
    if missing:
        raise CrosspanError(source, f"prompt '{prompt}' is built from the labels, and {len(missing)} case(s) have "
                            f"none (e.g. {missing[0]})", "give a catalog or dataset with labels, or train the "
                            "model with --hp prompt=none (automatic, no prompt)")
    return labels
