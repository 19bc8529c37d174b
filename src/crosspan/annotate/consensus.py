"""Consensus masks from several annotators: STAPLE (Warfield et al., IEEE TMI 2004; SimpleITK) or majority vote.

Per case, the output is the final mask and a confidence map (STAPLE's posterior probability of pancreas, or the
fraction of annotators who drew the voxel). An adjudicated mask, when given, wins.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from crosspan.data.errors import CrosspanError
from crosspan.data.io import read_image, write_image
from crosspan.utils.atomic import atomic_dir


def staple(masks: list[np.ndarray]) -> np.ndarray:
    """STAPLE posterior probability of foreground (float32, same shape as the masks)."""
    images = [sitk.GetImageFromArray(m.astype(np.uint8)) for m in masks]
    filt = sitk.STAPLEImageFilter()
    filt.SetForegroundValue(1)
    prob = filt.Execute(images)
    return sitk.GetArrayFromImage(prob).astype(np.float32)


def majority(masks: list[np.ndarray]) -> np.ndarray:
    return np.mean([m > 0 for m in masks], axis=0).astype(np.float32)


def build_consensus(mask_dirs: list[Path], out: Path, method: str = "staple",
                    adjudicated: Path | None = None) -> list[str]:
    """Write ``out/masks/<code>.nii.gz`` and ``out/confidence/<code>.nii.gz`` for every code in all folders."""
    if len(mask_dirs) < 2:
        raise CrosspanError(None, "consensus needs at least two annotators' folders", "pass two or more folders")
    if method not in ("staple", "majority"):
        raise CrosspanError(None, f"unknown consensus method '{method}'", "use staple or majority")
    sets = [{p.name for p in Path(d).iterdir() if p.is_file()} for d in mask_dirs]
    names = sorted(set.intersection(*sets))
    if not names:
        raise CrosspanError(mask_dirs[0], "no mask present in every folder", "name masks <code>.nii.gz in each")
    done = []
    with atomic_dir(out) as tmp:
        for name in names:
            arrays = []
            props = None
            for d in mask_dirs:
                arr, props = read_image(Path(d) / name)
                arrays.append(arr > 0)
            prob = staple(arrays) if method == "staple" else majority(arrays)
            final = (prob >= 0.5).astype(np.uint8)
            adj = Path(adjudicated) / name if adjudicated else None
            if adj is not None and adj.exists():
                final = (read_image(adj)[0] > 0).astype(np.uint8)
            write_image(final, props, tmp / "masks" / name)
            write_image(prob, props, tmp / "confidence" / name)
            done.append(name)
    return done
