"""Montage of a cohort: sequences (rows) x centers (columns), the axial slice with the most pancreas, contour."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from crosspan.core.atomic import atomic_path
from crosspan.core.errors import CrosspanError
from crosspan.data.io import ImageProperties, properties_from_sitk, read_sitk

SEQ_ORDER = ("T1", "T2", "OOP", "IP")


def draw_preview(cohort: str | Path, output: str | Path, patient: int = 0) -> Path:
    """Write a PNG montage of ``cohort`` (the ``patient``-th case of each center) to ``output``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cohort = Path(cohort)
    manifest = cohort / "manifest.csv"
    if not manifest.is_file():
        raise CrosspanError(cohort, "no manifest.csv", "point at a folder written by `crosspan synth cohort`")
    with manifest.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    centers = sorted({r["center"] for r in rows})
    seqs = sorted({r["sequence"] for r in rows}, key=lambda s: (SEQ_ORDER + (s,)).index(s))
    fig, axes = plt.subplots(len(seqs), len(centers), figsize=(3.2 * len(centers), 2.6 * len(seqs)), squeeze=False)
    for j, c in enumerate(centers):
        patients = sorted({r["patient_id"] for r in rows if r["center"] == c})
        pid = patients[min(patient, len(patients) - 1)]
        for i, s in enumerate(seqs):
            ax = axes[i, j]
            ax.axis("off")
            row = next((r for r in rows if r["patient_id"] == pid and r["sequence"] == s), None)
            if row is None:
                continue
            img, props = _lps(cohort / row["image"])  # RAS-stored series are shown like the others
            lab, _ = _lps(cohort / row["label"])
            k = int(np.argmax(lab.reshape(lab.shape[0], -1).sum(1)))
            lo, hi = np.percentile(img, [0.5, 99.5])
            aspect = props.spacing[1] / props.spacing[2]
            ax.imshow(img[k], cmap="gray", vmin=lo, vmax=hi, aspect=aspect, interpolation="bilinear")
            if lab[k].any():
                ax.contour(lab[k], levels=[0.5], colors="#ff3030", linewidths=0.8)
            ax.set_title(f"{c} {s}  ({pid})", fontsize=9)
    fig.suptitle("crosspan synthetic cohort: axial slice through the pancreas (red: label)", fontsize=10)
    fig.tight_layout()
    output = Path(output)
    with atomic_path(output) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return output


def _lps(path: Path) -> tuple[np.ndarray, ImageProperties]:
    """The volume reoriented to LPS (no interpolation) and its geometry."""
    img = sitk.DICOMOrient(read_sitk(path), "LPS")
    return sitk.GetArrayFromImage(img).astype(np.float32), properties_from_sitk(img)
