"""Smoke experiment: a tiny network trained only on tissue label maps (physics-rand or synthseg) or on T1 images
(ERM), tested on the T1, T2 and OOP images of a small synthetic cohort's test split. Not the benchmark of issue
#12 (that needs the engine hook of docs/labelmap.md); a check that label-map training transfers at all.

    .venv/bin/crosspan synth cohort /tmp/lmc --patients 10 --centers A,B --sequences T1,T2,OOP --shape small \
        --tissue-maps --seed 0
    .venv/bin/python benchmarks/probes/labelmap_smoke.py /tmp/lmc --steps 300 --methods physics-rand,synthseg,erm
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk
import torch
from monai.inferers import sliding_window_inference

from crosspan.core.atomic import write_text
from crosspan.core.dice import dice
from crosspan.data.io import read_sitk
from crosspan.methods import get_method
from crosspan.models import build_network, network_config
from crosspan.preprocess.geometry import resample_to_spacing
from crosspan.preprocess.normalize import body_mask, zscore
from crosspan.synth.tissues import Tissue

SPACING = (4.0, 2.0, 2.0)


def load(path: Path, is_label: bool) -> np.ndarray:
    return sitk.GetArrayFromImage(resample_to_spacing(read_sitk(path), SPACING, is_label))


def patches(vols: list[dict], patch: int, b: int, g: np.random.Generator) -> dict[str, torch.Tensor]:
    out: dict[str, list] = {"image": [], "label": [], "tissue": []}
    for _ in range(b):
        v = vols[g.integers(len(vols))]
        shape = np.array(v["label"].shape)
        pad = np.maximum(patch - shape, 0)
        arrs = {k: np.pad(v[k], [(0, p) for p in pad]) for k in out}
        shape = np.array(arrs["label"].shape)
        if g.random() < 0.67:  # foreground oversampling as nnU-Net
            c = np.argwhere(arrs["label"] > 0)[g.integers(int((arrs["label"] > 0).sum()))]
            start = np.clip(c - patch // 2, 0, shape - patch)
        else:
            start = np.array([g.integers(0, s - patch + 1) for s in shape])
        sl = tuple(slice(s, s + patch) for s in start)
        for k in out:
            out[k].append(arrs[k][sl])
    return {"image": torch.from_numpy(np.stack(out["image"])[:, None].astype(np.float32)),
            "label": torch.from_numpy(np.stack(out["label"])[:, None].astype(np.int64)),
            "tissue": torch.from_numpy(np.stack(out["tissue"])[:, None].astype(np.int64)),
            "domain": torch.zeros(b, dtype=torch.long)}


def table(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    return "\n".join(lines + ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cohort", type=Path)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--patch", type=int, default=32)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--methods", default="physics-rand,synthseg,erm")
    ap.add_argument("-o", "--output", default="benchmarks/results/labelmap_smoke.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    man = pd.read_csv(args.cohort / "manifest.csv")
    t1 = man[(man.sequence == "T1") & (man.split == "train")]
    train = []
    for r in t1.itertuples():
        img = load(args.cohort / r.image, False)
        tissue = load(args.cohort / "tissues" / f"{r.patient_id}.nii.gz", True)
        train.append({"image": zscore(img, body_mask(img)), "label": (tissue == Tissue.PANCREAS).astype(np.uint8),
                      "tissue": tissue})
    test = man[man.split == "test"]
    rows = []
    for name in args.methods.split(","):
        torch.manual_seed(0)
        m = get_method(name)(build_network(network_config("tiny", [args.patch] * 3, list(SPACING))), ["A:T1"])
        m.setup_training(args.steps)
        m.train()
        g = np.random.default_rng(0)
        t0 = time.time()
        for step in range(args.steps):
            torch.manual_seed(step)
            m.update(patches(train, args.patch, args.batch, g))
        secs = time.time() - t0
        m.eval()
        scores: dict[str, list[float]] = {}
        for r in test.itertuples():
            img = load(args.cohort / r.image, False)
            lab = load(args.cohort / r.label, True) > 0
            x = torch.from_numpy(zscore(img, body_mask(img)))[None, None]
            with torch.no_grad():
                prob = sliding_window_inference(x, (args.patch,) * 3, 4, m.predict, overlap=0.25)
            scores.setdefault(r.sequence, []).append(dice(prob[0, 1].numpy() > 0.5, lab, empty=1.0))
        rows.append({"method": name, "train s": round(secs), **{k: round(float(np.mean(v)), 3)
                                                                 for k, v in sorted(scores.items())}})
        print(rows[-1], flush=True)
    n_test = len(test.patient_id.unique())
    text = (f"### Label-map smoke run ({args.steps} steps, patch {args.patch}^3, batch {args.batch}, tiny network, "
            f"{len(train)} training patients, {n_test} test patients; mean Dice)\n\n"
            f"`.venv/bin/python benchmarks/probes/labelmap_smoke.py {args.cohort} --steps {args.steps} --patch "
            f"{args.patch} --methods {args.methods}`\n\n" + table(rows))
    print(text)
    write_text(args.output, text)


if __name__ == "__main__":
    main()
