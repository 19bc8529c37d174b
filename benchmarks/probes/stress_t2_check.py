"""Why physics-rand lags on T2 of the stress suite (issue #17): (1) where the HASTE protocols of the stress and
default centers fall in physics-rand's HASTE draws (per-tissue z-score after the draws' whole-volume normalization,
nominal tissues, reference abdomen), for the current and a wider TR range; (2) on real T2 scans of a cohort: the
fraction of the volume each body mask of the preprocessing (otsu, noise-floor) keeps, how much of the pancreas lies
inside it, the pancreas z-score after the preprocessing's body z-score, and how much of the pancreas the crop keeps.

    .venv/bin/python benchmarks/probes/stress_t2_check.py                  # (1) only
    .venv/bin/python benchmarks/probes/stress_t2_check.py STRESS_COHORT [SEQ]  # (1) and (2) on COHORT/SEQ/*/images (T2)
"""

from __future__ import annotations

import glob
import sys
from importlib import resources

import numpy as np
import SimpleITK as sitk
import torch
import yaml

from crosspan.data.io import read_sitk
from crosspan.methods.labelmap.draws import TISSUE_WEIGHTS, draw_protocols, jitter_tissues, signal_table
from crosspan.methods.labelmap.normalize import volume_stats
from crosspan.preprocess.geometry import CANONICAL, reorient
from crosspan.preprocess.normalize import BODY_MASKS, bbox, body_mask
from crosspan.synth.tissues import Tissue
from crosspan.synth.torch_render import field_tensors, haste_signal

SHOWN = {"panc": Tissue.PANCREAS, "fluid": Tissue.FLUID, "vfat": Tissue.VISCERAL_FAT, "liver": Tissue.LIVER,
         "spleen": Tissue.SPLEEN, "pv": Tissue.PORTAL_VEIN}


def tissue_z(level: torch.Tensor, snr: torch.Tensor) -> torch.Tensor:
    """Per-tissue z (B, len(SHOWN)) under the draws' whole-volume normalization of noise-free levels (B, T)."""
    w = torch.tensor(TISSUE_WEIGHTS)
    sigma = (level * w).sum(1) / w.sum() / snr
    st = volume_stats(level, sigma, torch.Generator().manual_seed(0))
    z = (level.clamp(st["lo"][:, None], st["hi"][:, None]) - st["mean"][:, None]) / st["std"][:, None]
    return z[:, list(SHOWN.values())]


def center_protocols() -> None:
    for label, pkg, name in (("stress", "crosspan.synth.profiles", "stress.yaml"),
                             ("default", "crosspan.synth", "centers.yaml")):
        data = yaml.safe_load(resources.files(pkg).joinpath(name).read_text())
        for c, p in data.get("centers", data).items():
            s = p["sequences"]["T2"]
            lut = haste_signal(field_tensors(torch.tensor([float(p["field"])])), torch.tensor([float(s["TR"])]),
                               torch.tensor([float(s["TE"])]), torch.tensor([bool(s.get("fatsat"))]),
                               float(s.get("flow_void", 0.03))).abs().float()
            z = tissue_z(lut, torch.tensor([float(p.get("snr", 20))]))[0]
            print(f"{label} {c} {p['field']} T TR {s['TR']} TE {s['TE']} fat-sat {bool(s.get('fatsat'))}: "
                  + " ".join(f"{k} {v:+.2f}" for k, v in zip(SHOWN, z.tolist(), strict=True)))


def drawn(haste_tr: tuple[float, float], n: int = 4000) -> None:
    g = torch.Generator().manual_seed(0)
    proto = draw_protocols(n, g, (0.0, 0.0, 1.0, 0.0), haste_tr)
    lut = signal_table(jitter_tissues(field_tensors(proto["field"]), g), proto).abs().float()
    z = tissue_z(lut, 8 + 32 * torch.rand(n, generator=g))
    q = torch.quantile(z, torch.tensor([0.05, 0.5, 0.95]), dim=0)
    print(f"physics-rand HASTE draws, TR U{haste_tr}: z p5 / p50 / p95 " + "; ".join(
        f"{k} {q[0, i]:+.2f} / {q[1, i]:+.2f} / {q[2, i]:+.2f}" for i, k in enumerate(SHOWN)))


def _canonical(path: str) -> np.ndarray:
    """The (z, y, x) array the preprocessing sees (reoriented to the plan's orientation)."""
    return sitk.GetArrayFromImage(reorient(sitk.Cast(read_sitk(path), sitk.sitkFloat32), CANONICAL))


def real_scans(cohort: str, sequences: str = "T2") -> None:
    for f in sorted(glob.glob(f"{cohort}/{sequences}/*/images/*_0000.nii.gz")):
        img = _canonical(f)
        lab = _canonical(f.replace("/images/", "/labels/").replace("_0000.nii", ".nii")) > 0
        parts = []
        for method in BODY_MASKS:
            body = body_mask(img, method)
            vals = img[body]
            lo, hi = np.percentile(vals, [0.5, 99.5])
            c = np.clip(vals, lo, hi)
            z = (np.clip(img[lab], lo, hi) - c.mean()) / c.std()
            crop = np.zeros(body.shape, dtype=bool)
            crop[tuple(slice(a, b) for a, b in bbox(body))] = True  # the preprocessing's body crop
            parts.append(f"{method}: mask {body.mean():.3f} of the volume, pancreas inside {body[lab].mean():.2f} "
                         f"(crop {crop[lab].mean():.2f}), pancreas z {z.mean():+.2f}")
        print(f"{f.split('/')[-1][:-12]} {f.split('/')[-4]}: " + " | ".join(parts), flush=True)


if __name__ == "__main__":
    torch.set_num_threads(1)
    center_protocols()
    drawn((800.0, 2000.0))
    drawn((800.0, 6000.0))
    if len(sys.argv) > 1:
        real_scans(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "T2")
