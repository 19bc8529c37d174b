"""One trained run on one image: preprocess (the run's plan) -> sliding window (full or coarse-to-fine) ->
back to the source grid -> post-processing. ``crosspan predict``, checkpoint scoring and the ``model-box`` prompt
of the zero-shot models all call :func:`segment`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from crosspan.data.io import ImageProperties, read_sitk
from crosspan.inference.plancache import PlanCache
from crosspan.inference.postprocess import parse_postprocess, postprocess
from crosspan.inference.roi import RoiReport, predict_volume_roi
from crosspan.methods.base import Method
from crosspan.methods.sliding import inference_layout, predict_volume
from crosspan.preprocess.cache import Preprocessed, preprocess_image
from crosspan.preprocess.geometry import to_source_grid
from crosspan.preprocess.plan import Plan
from crosspan.runs.model import RunModel
from crosspan.runs.run import Run, open_run


def load_run(run_dir: str | Path, device: str = "cpu") -> Run:
    """A run folder's method (trained weights, eval mode, on ``device`` in its inference memory layout), its
    ``model.json`` and ``plan.json``."""
    run = open_run(run_dir)
    run.method.to(memory_format=inference_layout(torch.device(device)))  # predict_volume then converts nothing
    run.method.to(device)
    return run


@dataclass
class Segmentation:
    """A case segmented in its source geometry: the binary mask, the foreground probability, the geometry."""

    mask: np.ndarray
    probability: np.ndarray
    source: ImageProperties
    roi: RoiReport | None = None


def segment(method: Method, model: RunModel, plan: Plan, image: str, *, label: str = "", overlap: float = 0.5,
            tta: bool = False, post: str = "lcc", device: str = "cpu", amp: str = "none", roi: str = "none",
            roi_zoom: float = 1.0, cache: PlanCache | None = None) -> Segmentation:
    """Segment ``image`` with a trained method. ``roi="auto"``: coarse-to-fine window
    (:mod:`crosspan.inference.roi`; ``"aligned"`` on the full window's tiles). ``label``: the case's ground truth,
    from which a prompted method (prompt-unet) builds its prompt channels (oracle). ``cache``: take the
    preprocessed image from the plan's cache when ``image`` is cached there (:mod:`crosspan.inference.plancache`)."""
    pre = prepare(plan, image, label, cache)
    prob, rep = probabilities(method, model, pre, bool(label), overlap, tta, device, amp, roi, roi_zoom)
    return finish(prob, pre, post, rep)


def prepare(plan: Plan, image: str, label: str = "", cache: PlanCache | None = None) -> Preprocessed:
    """``image`` (and ``label``) on the plan's grid: from the plan's cache when it holds this very image (and no
    label is asked for), else read and preprocessed."""
    pre = cache.lookup(image) if cache is not None and not label else None
    if pre is None:
        pre = preprocess_image(read_sitk(image), plan, read_sitk(label) if label else None, label or None)
    return pre


def probabilities(method: Method, model: RunModel, pre: Preprocessed, prompted: bool = False, overlap: float = 0.5,
                  tta: bool = False, device: str = "cpu", amp: str = "none", roi: str = "none",
                  roi_zoom: float = 1.0) -> tuple[np.ndarray, RoiReport | None]:
    """The network's class probabilities on the preprocessed grid (full or coarse-to-fine window); ``prompted``:
    the prompt channels come from ``pre.label``."""
    patch = list(model.patch_size)
    if prompted and pre.label is not None:
        prompts = method.test_prompts(pre.label)
        return predict_volume(method, np.concatenate([pre.image[None], prompts]), patch, overlap, tta, device,
                              amp), None
    if roi in ("auto", "aligned", "fast"):  # fast: the crop pass too, where it is cheaper (not exact)
        return predict_volume_roi(method, pre.image, patch, overlap, tta, device, amp, coarse_zoom=roi_zoom,
                                  fine="auto" if roi == "fast" else "exact")
    return predict_volume(method, pre.image, patch, overlap, tta, device, amp), None


def finish(prob: np.ndarray, pre: Preprocessed, post: str = "lcc", rep: RoiReport | None = None) -> Segmentation:
    """The foreground probability back on the source grid, thresholded and post-processed."""
    source = ImageProperties.from_dict(pre.meta["source"])
    fg = to_source_grid(prob[1], ImageProperties.from_dict(pre.meta["preprocessed"]), source, is_label=False)
    mode, min_ml = parse_postprocess(post)
    mask = postprocess(fg > 0.5, mode, source.voxel_volume_ml(), min_ml)
    return Segmentation(mask=mask, probability=fg, source=source, roi=rep)


__all__ = ["Segmentation", "finish", "load_run", "prepare", "probabilities", "segment"]
