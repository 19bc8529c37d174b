"""Real-scan label maps for label-map training (`crosspan synth labelmaps`): an organ segmenter's whole-abdomen map
of each labelled scan, mapped to crosspan's tissue classes through the segmenter's preset
(``crosspan/synth/label_presets``), with the scan's own pancreas label burned in: voxels the segmenter called
pancreas but the label does not become visceral fat (peripancreatic fat), the label's voxels become pancreas, so
``label == (tissue == pancreas)`` holds exactly, as the engine requires.

Output: a self-contained manifest dataset, ``OUT/manifest.csv`` (``case_id, patient_id, center, sequence, image,
label, split, tissue``) with ``images/``, ``labels/``, ``tissues/`` (NIfTI, each scan's own geometry). It is what
``crosspan data splits OUT/manifest.csv --training-input label-maps`` reads, and ``crosspan synth render
OUT/tissues R --preset crosspan`` renders.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from crosspan.core.atomic import atomic_dir, write_json, write_text
from crosspan.core.errors import CrosspanError
from crosspan.core.parallel import progress_bar
from crosspan.data.io import properties_from_sitk, read_sitk, write_image
from crosspan.synth.render_labels import load_mapping, map_labels, preset_path
from crosspan.synth.tissues import Tissue

COLUMNS = ["case_id", "patient_id", "center", "sequence", "image", "label", "split", "tissue"]
Segment = Callable[[str, sitk.Image], np.ndarray]


def burn_in(tissue: np.ndarray, label: np.ndarray) -> np.ndarray:
    """``tissue`` with the segmenter's pancreas outside ``label`` as visceral fat and ``label`` as pancreas."""
    out = tissue.copy()
    out[(out == Tissue.PANCREAS) & ~label] = Tissue.VISCERAL_FAT
    out[label] = Tissue.PANCREAS
    return out


def labelled_rows(source: str | Path) -> tuple[list[dict[str, str]], int]:
    """Catalog rows of ``source`` that carry a label, and how many rows had none."""
    from crosspan.data.catalog import catalog_from

    cat = catalog_from(source, progress=False)
    has = cat["label"].map(lambda v: isinstance(v, str) and bool(v))
    rows = [{k: str(r.get(k, "")) for k in ("case_id", "patient_id", "center", "sequence", "image", "label",
                                             "split")} for r in cat[has].to_dict("records")]
    return rows, int((~has).sum())


def write_labelmaps(rows: list[dict[str, str]], segment: Segment, mapping: dict, out: str | Path,
                    info: dict | None = None, progress: bool = True) -> Path:
    """Segment, map and burn in every row; writes the manifest dataset atomically (nothing on failure)."""
    if not rows:
        raise CrosspanError(None, "no labelled scans", "give a dataset or catalog whose scans have pancreas labels")
    if Path(out).exists() and any(Path(out).iterdir()):
        raise CrosspanError(out, "output folder is not empty", "give a new or empty -o folder")
    table, warned = [], set()
    with atomic_dir(out) as tmp, progress_bar(disable=not progress) as bar:
        for sub in ("images", "labels", "tissues"):
            (tmp / sub).mkdir()
        task = bar.add_task("label maps", total=len(rows))
        for row in rows:
            image = read_sitk(row["image"])
            props = properties_from_sitk(image)
            label = sitk.GetArrayFromImage(read_sitk(row["label"])) > 0
            if label.shape != tuple(reversed(image.GetSize())):
                raise CrosspanError(row["label"], "label and image grids differ", "run `crosspan data check`")
            tissue, unknown = map_labels(segment(row["case_id"], image), mapping, props.spacing)
            warned.update(unknown)
            case = row["case_id"]
            sitk.WriteImage(image, str(tmp / "images" / f"{case}.nii.gz"))
            write_image(label.astype(np.uint8), props, tmp / "labels" / f"{case}.nii.gz")
            write_image(burn_in(tissue, label), props, tmp / "tissues" / f"{case}.nii.gz")
            table.append({**row, "image": f"images/{case}.nii.gz", "label": f"labels/{case}.nii.gz",
                          "tissue": f"tissues/{case}.nii.gz"})
            bar.advance(task)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(table)
        write_text(tmp / "manifest.csv", buf.getvalue())
        write_json(tmp / "labelmaps.json", {**(info or {}), "mapping": mapping["name"], "cases": len(table),
                                            "unmapped_ids": sorted(warned)})
    return Path(out)


def label_presets() -> dict[str, str]:
    """Registered organ segmenters -> the label preset of their class table (each class's ``label_preset``)."""
    from crosspan.methods.base import get_method, method_names
    from crosspan.methods.foundation.organ_models import OrganSegmenter

    classes = {n: get_method(n) for n in method_names()}
    return {n: c.label_preset for n, c in classes.items() if issubclass(c, OrganSegmenter) and c.label_preset}


def segmenter_labelmaps(source: str | Path, out: str | Path, segmenter: str, hp: dict | None, device: str,
                        progress: bool = True) -> tuple[Path, int]:
    """``crosspan synth labelmaps``: the packaged ``segmenter`` on every labelled scan of ``source``."""
    from crosspan.inference.zeroshot import build_zero_shot
    from crosspan.inference.zeroshot_organs import organ_map
    from crosspan.methods.foundation.organ_models import OrganSegmenter

    presets = label_presets()
    if segmenter not in presets:
        raise CrosspanError(None, f"unknown segmenter '{segmenter}'", f"use one of {', '.join(presets)}")
    method = build_zero_shot(segmenter, hp, device)
    assert isinstance(method, OrganSegmenter)
    rows, unlabelled = labelled_rows(source)
    mapping = load_mapping(preset_path(presets[segmenter]))
    info = {"segmenter": segmenter, "hparams": method.hparams, "source": str(source), "skipped_unlabelled":
            unlabelled}
    return write_labelmaps(rows, lambda _case, image: organ_map(method, image), mapping, out, info,
                           progress), unlabelled


__all__ = ["burn_in", "label_presets", "labelled_rows", "segmenter_labelmaps", "write_labelmaps"]
