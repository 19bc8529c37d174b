"""`crosspan predict`: a self-contained run folder + images -> masks in the exact source geometry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crosspan.core.errors import CrosspanError
from crosspan.data.guards import check_case_ids, inside
from crosspan.data.io import ImageProperties, is_image_file, read_sitk, strip_image_suffix, write_image
from crosspan.inference.postprocess import parse_postprocess, postprocess
from crosspan.inference.roi import ROI_MODES, RoiReport, predict_volume_roi
from crosspan.inference.sliding import inference_layout, predict_volume
from crosspan.methods.base import Method
from crosspan.preprocess.cache import preprocess_image
from crosspan.preprocess.geometry import to_source_grid
from crosspan.training.checkpoint import load_weights
from crosspan.core.atomic import write_json
from crosspan.core.parallel import progress_bar


def load_run(run_dir: str | Path, device: str = "cpu") -> tuple[Method, dict[str, Any], dict[str, Any]]:
    """Method with trained weights, ``model.json`` and ``plan.json`` of a run folder."""
    from crosspan.training.loop import build_method

    run_dir = Path(run_dir)
    for name in ("model.json", "plan.json"):
        if not (run_dir / name).is_file():
            raise CrosspanError(run_dir / name, "missing", "point at a run folder written by `crosspan train`")
    model = json.loads((run_dir / "model.json").read_text())
    plan = json.loads((run_dir / "plan.json").read_text())
    method = build_method(model)
    weights = run_dir / "model_final.pt"
    if not weights.is_file():
        weights = run_dir / "checkpoint_last.pt"
    method.load_state_dict(load_weights(weights))
    method.to(memory_format=inference_layout(torch.device(device)))  # predict_volume then converts nothing
    return method.to(device).eval(), model, plan


def collect_inputs(source: str | Path, cases: str = "test", splits: str | Path | None = None,
                   fold: int = 0) -> list[tuple[str, str]]:
    """``(case_id, image path)`` pairs from a file, a folder of images, a DICOM series, a catalog or dataset."""
    source = Path(source)
    if not source.exists():
        raise CrosspanError(source, "input does not exist", "give an image, a folder, a catalog CSV or a dataset")
    if source.is_file() and is_image_file(source):
        return [(_case_name(source), str(source))]
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if is_image_file(p))
        if files and not any(p.is_dir() for p in source.iterdir()):
            return [(_case_name(p), str(p)) for p in files]
        if not files and _looks_dicom(source):
            return [(source.name, str(source))]
    from crosspan.data.catalog import catalog_from

    cat = catalog_from(source, progress=False)
    if splits:
        doc = json.loads(Path(splits).read_text())
        if not 0 <= fold < len(doc["splits"]):
            raise CrosspanError(splits, f"fold {fold} not in the splits file ({len(doc['splits'])} split(s))",
                                f"use --fold 0..{len(doc['splits']) - 1}")
        keep = set(doc["splits"][fold]["test"])
        cat = cat[cat["case_id"].isin(keep)]
    elif cases != "all":
        cat = cat[cat["split"] == cases]
    return [(str(c), str(i)) for c, i in zip(cat["case_id"], cat["image"], strict=True)]


def _case_name(path: Path) -> str:
    name = strip_image_suffix(path.name)
    return name[:-5] if name.endswith("_0000") else name


def _looks_dicom(folder: Path) -> bool:
    files = [p for p in folder.iterdir() if p.is_file()]
    return bool(files) and all(p.suffix.lower() in (".dcm", "") for p in files[:20])


def predict_case(method: Method, model: dict[str, Any], plan: dict[str, Any], image: str, out_dir: Path,
                 case_id: str, overlap: float = 0.5, tta: bool = False, post: str = "lcc",
                 save_probabilities: bool = False, device: str = "cpu", amp: str = "none", roi: str = "none",
                 reports: dict[str, RoiReport] | None = None, roi_zoom: float = 1.0, label: str = "") -> Path:
    """Predict one image and write ``out_dir/<case_id>.nii.gz`` in the source geometry; with ``roi="auto"`` the
    coarse-to-fine window (:mod:`crosspan.inference.roi`; ``"aligned"`` on the full window's tiles), its report
    stored in ``reports[case_id]``. ``label``: the case's ground truth, from which a prompted method (prompt-unet)
    builds its prompt channels (oracle)."""
    img = read_sitk(image)
    pre = preprocess_image(img, plan, read_sitk(label) if label else None, label or None)
    if label and pre.label is not None:
        prompts = method.test_prompts(pre.label)  # type: ignore[operator]
        prob = predict_volume(method, np.concatenate([pre.image[None], prompts]), model["patch_size"], overlap, tta,
                              device, amp)
    elif roi in ("auto", "aligned"):
        prob, rep = predict_volume_roi(method, pre.image, model["patch_size"], overlap, tta, device, amp,
                                       coarse_zoom=roi_zoom, align=roi == "aligned")
        if reports is not None:
            reports[case_id] = rep
    else:
        prob = predict_volume(method, pre.image, model["patch_size"], overlap, tta, device, amp)
    source = ImageProperties.from_dict(pre.meta["source"])
    fg = to_source_grid(prob[1], ImageProperties.from_dict(pre.meta["preprocessed"]), source, is_label=False)
    mode, min_ml = parse_postprocess(post)
    mask = postprocess(fg > 0.5, mode, source.voxel_volume_ml(), min_ml)
    out = write_image(mask.astype(np.uint8), source, inside(out_dir, f"{case_id}.nii.gz"))
    if save_probabilities:
        write_image(fg.astype(np.float32), source, inside(out_dir, "probabilities", f"{case_id}.nii.gz"))
    return out


def predict(run_dir: str | Path, source: str | Path, out_dir: str | Path, overlap: float = 0.5, tta: bool = False,
            post: str = "lcc", save_probabilities: bool = False, cases: str = "test", splits: str | None = None,
            device: str = "cpu", amp: str = "none", progress: bool = True, fold: int = 0, roi: str = "none",
            reports: dict[str, RoiReport] | None = None, roi_zoom: float = 1.0) -> list[Path]:
    """Masks for every input (see :func:`predict_case`); raises before writing anything on a bad option."""
    parse_postprocess(post)
    if roi not in ROI_MODES:
        raise CrosspanError(None, f"unknown --roi '{roi}'",
                            "use --roi none (full window), auto or aligned (coarse-to-fine)")
    if not 1.0 <= roi_zoom <= 8.0:
        raise CrosspanError(None, f"--roi-zoom {roi_zoom} out of range", "use a factor from 1 (no shrinking) to 8")
    method, model, plan = load_run(run_dir, device)
    items = collect_inputs(source, cases, splits, fold)
    if not items:
        raise CrosspanError(source, f"no images to predict (cases={cases})", "use --cases all or check the input")
    labels = prompt_labels(method, source, cases, splits, fold, roi)
    out_dir = Path(out_dir)
    check_case_ids([c for c, _ in items], source)
    ours = [p for c, _ in items for p in (out_dir / f"{c}.nii.gz", out_dir / "probabilities" / f"{c}.nii.gz")]
    existed = {p for p in ours if p.exists()}
    written = []
    try:
        with progress_bar(disable=not progress) as bar, torch.inference_mode():
            task = bar.add_task("predicting", total=len(items))
            for case_id, image in items:
                written.append(predict_case(method, model, plan, image, out_dir, case_id, overlap, tta, post,
                                            save_probabilities, device, amp, roi, reports, roi_zoom,
                                            labels.get(case_id, "")))
                bar.advance(task)
    except Exception:  # a failed run leaves none of its own masks behind (files from before stay)
        for p in ours:
            if p not in existed:
                p.unlink(missing_ok=True)
        raise
    if labels:  # the predictions used ground-truth prompts: say so next to them, as zero-shot runs do
        write_json(out_dir / "prompts.json", {"method": model["method"], "prompt": method.hparams["prompt"],
                                              "oracle": True, "cases": len(written)})
    return written


def prompt_labels(method: Method, source: str | Path, cases: str, splits: str | None, fold: int,
                  roi: str) -> dict[str, str]:
    """Case -> label path when ``method`` is prompted from the test labels (prompt-unet, oracle prompt), else {}."""
    if not (method.prompt_inputs and method.uses_oracle(method.hparams)):
        return {}
    from crosspan.inference.zeroshot import collect_labeled

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
