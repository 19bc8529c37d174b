"""`crosspan predict --method mrsegmentator|totalseg-mr`: packaged organ segmenters on the same cases as every
other method. Each scan goes to the package as a NIfTI in its own geometry; the organ map comes back on that grid
(resampled nearest-neighbour onto it if a package moved it), its pancreas label is the mask, written in the
source geometry. ``zeroshot.json`` records the package version, device and seconds per scan. A rerun into the same
folder skips the scans already segmented with the same package version, weights and options
(:mod:`crosspan.inference.ledger`): each scan costs the package's whole start-up and inference.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from crosspan.core.atomic import write_json
from crosspan.core.errors import CrosspanError
from crosspan.core.parallel import progress_bar
from crosspan.data.io import properties_from_sitk, read_sitk, write_image
from crosspan.inference.ledger import PredictionLedger, file_stamp
from crosspan.inference.postprocess import parse_postprocess, postprocess
from crosspan.methods.foundation.organ_models import OrganSegmenter, package_version
from crosspan.methods.foundation.organ_table import pancreas_label


def on_grid(organs: sitk.Image, reference: sitk.Image) -> sitk.Image:
    """``organs`` on ``reference``'s grid (unchanged when the geometry already matches)."""
    same = (organs.GetSize() == reference.GetSize()
            and np.allclose(organs.GetSpacing(), reference.GetSpacing(), atol=1e-4)
            and np.allclose(organs.GetOrigin(), reference.GetOrigin(), atol=1e-3)
            and np.allclose(organs.GetDirection(), reference.GetDirection(), atol=1e-4))
    if same:
        return organs
    return sitk.Resample(organs, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, organs.GetPixelID())


def organ_map(method: OrganSegmenter, image: sitk.Image) -> np.ndarray:
    """The package's organ map of ``image`` as a (z, y, x) integer array on ``image``'s grid."""
    with tempfile.TemporaryDirectory(prefix="crosspan-organs-") as tmp:
        nii = Path(tmp) / "scan_0000.nii.gz"
        sitk.WriteImage(image, str(nii))
        organs = sitk.ReadImage(str(method.segment_file(nii, Path(tmp))))
    return sitk.GetArrayFromImage(on_grid(organs, image)).astype(np.int16)


def weights_stamp(folder: Path) -> list[dict[str, Any]]:
    """Path, size and mtime of the weights folder's label table and checkpoints (new weights: a fresh ledger)."""
    files = [folder / "dataset.json", *sorted(folder.rglob("*.pth"))]
    return [file_stamp(f) for f in files]


def predict_organs(method: OrganSegmenter, items: list[tuple[str, str]], out_dir: str | Path, device: str,
                   post: str = "none", progress: bool = True, resume: bool = True) -> list[Path]:
    """Masks of ``items`` (``(case_id, image)``); organ maps too under ``organs/`` with ``save_organs``.
    ``resume``: skip the scans this folder already holds from the same package, weights and options."""
    if not items:
        raise CrosspanError(None, "no images to predict", "use --cases all or check the input")
    mode, min_ml = parse_postprocess(post)
    label = pancreas_label(method.model, str(method.hparams["weights"]))
    assert method.cli is not None
    version = package_version(method.model, method.cli)
    out_dir = Path(out_dir)
    ledger = PredictionLedger(out_dir, {
        "method": method.name, "hparams": method.hparams, "post": post, "version": version,
        "weights": weights_stamp(Path(str(method.hparams["weights"])))}, resume)
    written, seconds = [], {}
    with progress_bar(disable=not progress) as bar:
        task = bar.add_task(method.name, total=len(items))
        for case_id, path in items:
            out = out_dir / f"{case_id}.nii.gz"
            outputs = [out, out_dir / "organs" / f"{case_id}.nii.gz"] if method.hparams["save_organs"] else [out]
            entry = ledger.done(case_id, path, outputs)
            if entry is None:
                image = read_sitk(path)
                props = properties_from_sitk(image)
                t0 = time.perf_counter()
                organs = organ_map(method, image)
                entry = {"seconds": round(time.perf_counter() - t0, 3)}
                mask = postprocess(organs == label, mode, props.voxel_volume_ml(), min_ml)
                if method.hparams["save_organs"]:
                    write_image(organs, props, outputs[1])
                write_image(mask.astype(np.uint8), props, out)
                ledger.record(case_id, path, **entry)
            seconds[case_id] = float(entry["seconds"])
            written.append(out)
            bar.advance(task)
    write_json(out_dir / "zeroshot.json", {
        "method": method.name, "hparams": method.hparams, "oracle": False, "cases": len(written),
        "package": method.model.package, "version": version, "pancreas_label": label, "device": device,
        "seconds_per_volume": float(np.mean(list(seconds.values()))), "seconds": seconds})
    return written


__all__ = ["on_grid", "organ_map", "predict_organs", "weights_stamp"]
