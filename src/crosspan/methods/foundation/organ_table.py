"""The packaged whole-abdomen MRI segmenters crosspan scores zero-shot: one record each, the only place that
knows a package's name, version, command, weights layout and pancreas label id.

Both are nnU-Net v2 models whose weights live in an nnU-Net results layout (``plans.json``, ``dataset.json``,
``fold_N/checkpoint_final.pth``). Label ids come from each package's own class table: MRSegmentator's README
class list (``7: pancreas``) and TotalSegmentator's ``class_map["total_mr"]`` (``7: "pancreas"``); the weights'
``dataset.json`` is checked against them at run time (:func:`pancreas_label`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OrganModel:
    """One packaged segmenter: how to install it, run it, find its weights and read its pancreas."""

    name: str  #: crosspan method name
    package: str  #: PyPI distribution
    version: str  #: the release crosspan was tested with (installs beside the pinned torch)
    cli: str  #: console script the package installs
    pancreas_label: int  #: pancreas id in the package's class table
    weights_env: str  #: the package's own variable for a local weights folder
    paper: str
    #: model folders below ``--hp weights=DIR`` (``""``: DIR itself is the nnU-Net model folder)
    model_dirs: tuple[str, ...] = ("",)
    install: str = ""


TOTALSEG_TRAINER = "nnUNetTrainer_2000epochs_NoMirroring__nnUNetPlans__3d_fullres"

ORGAN_MODELS: dict[str, OrganModel] = {
    "mrsegmentator": OrganModel(
        name="mrsegmentator", package="mrsegmentator", version="1.2.2", cli="mrsegmentator", pancreas_label=7,
        weights_env="MRSEG_WEIGHTS_PATH",
        paper="Häntze et al., MRSegmentator: multi-modality segmentation of 40 classes in MRI and CT, "
              "Radiology: AI 2025",
        install="a side environment: pip install -c constraints.txt mrsegmentator==1.2.2 (2.0.0 needs "
                "torch<=2.10; 1.2.2 pins nnunetv2==2.2.1, which TotalSegmentator>=2.11 refuses)"),
    "totalseg-mr": OrganModel(
        name="totalseg-mr", package="TotalSegmentator", version="2.18.0", cli="TotalSegmentator", pancreas_label=7,
        weights_env="TOTALSEG_WEIGHTS_PATH",
        paper="D'Antonoli et al., TotalSegmentator MRI: robust sequence-independent segmentation of multiple "
              "anatomic structures in MRI, Radiology 2025 (task total_mr)",
        model_dirs=(f"Dataset850_TotalSegMRI_part1_organs_1088subj/{TOTALSEG_TRAINER}",
                    f"Dataset851_TotalSegMRI_part2_muscles_1088subj/{TOTALSEG_TRAINER}"),
        install="pip install -c constraints.txt 'crosspan[baselines]' (TotalSegmentator==2.18.0)"),
}


def weights_fix(model: OrganModel) -> str:
    """Where the weights go (crosspan never downloads them)."""
    if model.model_dirs == ("",):
        layout = "the unzipped MRSegmentator weights folder (dataset.json, plans.json, fold_0..fold_4/)"
    else:
        layout = "the folder holding " + " and ".join(d.split("/")[0] for d in model.model_dirs)
    return (f"--hp weights=DIR with DIR {layout}, as {model.weights_env} expects; download it yourself "
            "(docs/foundation.md), crosspan never downloads weights")


def _fold_dirs(model_dir: Path, fold: int) -> list[Path]:
    return [model_dir / f"fold_{fold}"] if fold >= 0 else sorted(model_dir.glob("fold_[0-9]"))


def weights_problem(model: OrganModel, weights: str, fold: int = 0) -> str | None:
    """Why ``weights`` is not a usable weights folder for ``model`` (``None``: it is)."""
    if not weights:
        return f"no {model.name} weights"
    root = Path(weights)
    if not root.is_dir():
        return f"{model.name} weights folder {root} not found"
    for sub in model.model_dirs:
        model_dir = root / sub if sub else root
        for name in ("plans.json", "dataset.json"):
            if not (model_dir / name).is_file():
                return f"{model_dir / name} missing"
        folds = _fold_dirs(model_dir, fold)
        if not folds or not all((f / "checkpoint_final.pth").is_file() for f in folds):
            which = f"fold_{fold}" if fold >= 0 else "fold_*"
            return f"{model_dir / which / 'checkpoint_final.pth'} missing"
    return None


def pancreas_label(model: OrganModel, weights: str) -> int:
    """The pancreas id of ``model``; the first model folder's ``dataset.json`` must agree with the table."""
    from crosspan.core.errors import CrosspanError

    sub = model.model_dirs[0]
    path = (Path(weights) / sub if sub else Path(weights)) / "dataset.json"
    labels = json.loads(path.read_text()).get("labels", {})
    found = labels.get("pancreas")
    if found is not None and int(found) != model.pancreas_label:
        raise CrosspanError(path, f"labels.pancreas is {found}, {model.name} {model.version} uses "
                            f"{model.pancreas_label}", f"use weights of {model.package}=={model.version}")
    return model.pancreas_label


__all__ = ["ORGAN_MODELS", "TOTALSEG_TRAINER", "OrganModel", "pancreas_label", "weights_fix", "weights_problem"]
