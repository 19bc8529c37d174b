"""Engine speed vs a plain MONAI loop at the same network size (training step, sliding window per volume).

Usage: .venv/bin/python benchmarks/speed/engine_speed.py PLAN_DIR [--steps 20] [--threads 2] [--patch 32,64,64]

The plain MONAI loop reads the same cached arrays (so preprocessing is not timed), crops with
``RandCropByPosNegLabeld`` (pos:neg 1:2), and steps DynUNet + DiceCELoss + SGD; the crosspan loop is the engine's
sampler (background prefetch) + spatial augmentation + ``ERM.update``. Sliding window: ``predict_volume`` vs
``monai.inferers.sliding_window_inference`` (Gaussian, overlap 0.5) on the same network and volumes.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from monai.losses import DiceCELoss
from monai.transforms import RandCropByPosNegLabeld

from crosspan.methods.base import get_method
from crosspan.methods.sliding import predict_volume
from crosspan.models import build_network, network_config
from crosspan.preprocess.plan import Plan
from crosspan.training.sampling import PatchSampler, Prefetcher, open_case
from crosspan.transforms.random_spatial import random_spatial


def engine_stepper(cases: list, patch: list[int], cfg: dict, steps: int):  # noqa: ANN201
    """The engine's step exactly as ``training/loop.py`` runs it (prefetch, augmentation, channels_last_3d)."""
    torch.manual_seed(0)
    method = get_method("erm")(build_network(cfg), ["A:T1"], {})
    method.network.to(memory_format=torch.channels_last_3d)
    method.setup_training(steps)
    it = iter(Prefetcher(PatchSampler(cases, patch, 2, 0), 0, steps + 2))

    def step() -> None:
        i, b = next(it)
        g = torch.Generator().manual_seed(i)
        img, lab, _ = random_spatial(torch.from_numpy(b["image"]), torch.from_numpy(b["label"]).long(), g)
        img = img.contiguous(memory_format=torch.channels_last_3d)
        method.update({"image": img, "label": lab, "domain": torch.from_numpy(b["domain"])})

    return method, step


def monai_stepper(cases: list, patch: list[int], cfg: dict):  # noqa: ANN201
    """A plain MONAI loop: RandCropByPosNegLabeld (1:2) + DynUNet/UNet + DiceCELoss + SGD."""
    torch.manual_seed(0)
    net = build_network(cfg)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    opt = torch.optim.SGD(net.parameters(), lr=1e-2, momentum=0.99, nesterov=True)
    crop = RandCropByPosNegLabeld(["image", "label"], "label", patch, pos=1, neg=2, num_samples=2)
    data = [{"image": np.asarray(c.image)[None], "label": np.asarray(c.label)[None]} for c in cases]
    counter = [0]

    def step() -> None:
        counter[0] += 1
        items = crop(data[counter[0] % len(data)])
        img = torch.stack([torch.as_tensor(d["image"]) for d in items]).float()
        lab = torch.stack([torch.as_tensor(d["label"]) for d in items]).long()
        opt.zero_grad()
        out = net(img)
        out = out[:, 0] if out.ndim == 6 else out
        loss = loss_fn(out, lab)
        loss.backward()
        opt.step()

    return net, step


def interleaved(fa, fb, n: int) -> tuple[float, float]:  # noqa: ANN001
    """Median seconds of ``fa`` and ``fb`` run alternately (a shared, busy CPU slows both alike)."""
    ta, tb = [], []
    for _ in range(n):
        for f, ts in ((fa, ta), (fb, tb)):
            t = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t)
    return float(np.median(ta[2:])), float(np.median(tb[2:]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("plan_dir", type=Path)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--patch", default=None)
    ap.add_argument("--network", default="tiny")
    ap.add_argument("--volumes", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    plan = Plan.load(args.plan_dir)
    patch = [int(v) for v in args.patch.split(",")] if args.patch else list(plan.patch_size_cpu)
    cfg = network_config(args.network, patch, list(plan.target_spacing))
    cases = [open_case(args.plan_dir / "cache", c) for c in plan.cases.train]
    res = {"network": args.network, "patch": patch, "threads": args.threads, "steps": args.steps}
    method, estep = engine_stepper(cases, patch, cfg, args.steps)
    net, mstep = monai_stepper(cases, patch, cfg)
    res["step_s_crosspan"], res["step_s_monai"] = interleaved(estep, mstep, args.steps)
    vols = [np.asarray(c.image) for c in cases[: args.volumes]]
    method.eval()
    net.eval()

    def monai_sw(v: np.ndarray) -> None:
        x = torch.from_numpy(np.array(v, dtype=np.float32))[None, None]
        with torch.no_grad():
            sliding_window_inference(x, patch, 2, lambda z: torch.softmax(net(z), 1), overlap=0.5, mode="gaussian")

    vi = iter(vols * 2)
    vj = iter(vols * 2)
    a, b = interleaved(lambda: predict_volume(method, next(vi), patch, overlap=0.5), lambda: monai_sw(next(vj)),
                       len(vols) + 2)
    res["sw_s_per_volume_crosspan"], res["sw_s_per_volume_monai"] = a, b
    res["volume_shape"] = list(vols[0].shape)
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
