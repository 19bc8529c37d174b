"""Training step and sliding-window time: crosspan engine vs nnU-Net v2 (nnUNetTrainer, nnUNetPredictor), one network.

Usage (crosspan venv drives; nnU-Net runs in its own venv, never a crosspan dependency):
    .venv/bin/python benchmarks/speed/engine_vs_nnunet_train_predict.py -o /tmp/nnstep [--nnvenv /tmp/nnvenv]
        [--patch 32,64,64] [--spacing 3,1.5,1.5] [--threads 2] [--steps 8] [--volumes 3] [--profile]
        [--ops step,sw] [--variants bf16,contiguous,roi,roi_zoom2,roi_bf16,roi_zoom2_bf16] [--skip-nnunet]

The network is crosspan's ``nnunet`` preset (MONAI DynUNet, kernels/strides/filters from ``network_config``); the
same stages, features, kernels and strides are written into an nnU-Net plans file as its ``PlainConvUNet``
(Isensee et al., Nature Methods 2021). Two persistent worker processes (this file with ``--worker crosspan`` in
the crosspan venv, ``--worker nnunet`` in the nnU-Net venv) load the same batch and volume from ``-o`` and time,
alternately (ABBA order), on ``--threads`` CPU threads:

1. one training step on a fixed batch of 2 (forward + deep-supervision loss + backward + clip 12 + SGD step):
   crosspan ``ERM.update`` (channels_last_3d, as ``crosspan train`` runs it) vs ``nnUNetTrainer.train_step`` after
   ``nnUNetTrainer.initialize()`` on the CPU (no torch.compile, no autocast on CPU, as nnU-Net does there);
   data loading/augmentation is excluded on both sides (nnU-Net's deep-supervision targets are downsampled
   beforehand, as its data loader does; crosspan downsamples labels inside the loss, so that is timed);
2. sliding-window prediction of one preprocessed volume (overlap 0.5, Gaussian, no mirroring):
   crosspan ``predict_volume`` (softmax probabilities) vs ``nnUNetPredictor.predict_sliding_window_return_logits``
   (logits) with the trainer's network, random initial weights (timing only).

Variant ``roi`` (``sw_roi``; ``roi_zoom2``, ``roi_bf16`` and ``roi_zoom2_bf16`` alike) times the work of ``crosspan
predict --roi auto`` (``crosspan.inference.roi``): the coarse pass (the full window's covering tiles, every other
one along each axis; ``zoom2``: a no-overlap window on the volume shrunk 2x) plus the fine pass ``--roi auto``
picks (the full window's tiles that touch the region, or the window's own grid on the region's crop with the
coarse tiles blended in). The weights are random, so the region is not detected but given: the pancreas bounding
box of preprocessed synthetic T1 scans (``PANCREAS_BOX``, fractions of the volume), grown as ``--roi auto`` grows
it; the tile counts of both passes are reported under ``info``. The crop pass's guard (step 3c of the roi module)
is timed as when it keeps the crop pass (with random weights its verdict means nothing; it costs no network call);
``fine_if_guard_rejects`` counts the fine tiles when it rejects it (the crop pass's, then the exact pass's).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve()
#: pancreas bounding box (z, y, x) as fractions of a preprocessed synthetic T1 scan (union over A_0001_T1 and
#: A_0002_T1 of ``crosspan synth cohort -n 2 --centers A --sequences T1 --seed 3``, 50x135x175 and 50x126x191)
PANCREAS_BOX = ((0.26, 0.70), (0.31, 0.59), (0.29, 0.73))


# ----------------------------------------------------------------------------------------------- workers
def _crosspan_worker(work: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ops ``step``/``sw`` as ``crosspan train``/``predict`` run them (fp32), plus ``step_bf16``/``sw_bf16`` (``--amp
    bf16``, which crosspan allows on a CPU and nnU-Net does not) and ``step_contiguous`` (training without
    channels-last)."""
    import torch

    from crosspan.methods.base import get_method
    from crosspan.methods.sliding import predict_volume
    from crosspan.models import build_network

    spec = json.loads((work / "spec.json").read_text())
    b = np.load(work / "batch.npz")
    vol = np.load(work / "volume.npy")
    patch = spec["patch"]

    def make(amp: str, layout: torch.memory_format) -> tuple[Any, dict[str, Any]]:
        torch.manual_seed(0)
        method = get_method("erm")(build_network(spec["network_config"]), ["A:T1"], {})
        method.network.to(memory_format=layout)  # training/loop.py: channels-last
        method.setup_training(10_000, amp)
        batch = {"image": torch.from_numpy(b["image"]).contiguous(memory_format=layout),
                 "label": torch.from_numpy(b["label"]).long(), "domain": torch.zeros(2, dtype=torch.long)}
        return method, batch

    variants = {"": make("none", torch.channels_last_3d), "_bf16": make("bf16", torch.channels_last_3d),
                "_contiguous": make("none", torch.contiguous_format)}
    ops: dict[str, Any] = {}
    for suffix, (method, batch) in variants.items():
        def step(method: Any = method, batch: dict[str, Any] = batch) -> None:
            method.train()
            method.update(batch)

        ops["step" + suffix] = step
    ops["sw"] = lambda: predict_volume(variants[""][0], vol, patch, overlap=0.5)
    ops["sw_bf16"] = lambda: predict_volume(variants[""][0], vol, patch, overlap=0.5, amp="bf16")

    from crosspan.inference.tiles import window_tiles

    info: dict[str, Any] = {"params": sum(p.numel() for p in variants[""][0].network.parameters()),
                            "tiles": window_tiles(vol.shape, patch, 0.5), "torch": torch.__version__}
    for name, zoom, amp in (("roi", 1.0, "none"), ("roi_zoom2", 2.0, "none"), ("roi_bf16", 1.0, "bf16"),
                            ("roi_zoom2_bf16", 2.0, "bf16")):
        ops["sw_" + name], info["tiles_" + name] = _roi_op(variants[""][0], vol, patch, zoom, amp)
    info["ops"] = sorted(ops)
    return ops, info


def _roi_op(method: Any, vol: np.ndarray, patch: list[int], zoom: float, amp: str) -> tuple[Any, dict[str, Any]]:
    """The work of ``predict --roi auto`` where the coarse pass finds ``PANCREAS_BOX``, and its tile counts."""
    import torch

    from crosspan.core.amp import autocast
    from crosspan.inference.roi import coarse_probability, fine_pass, plan_fine
    from crosspan.inference.tiles import TileWindow, window_tiles
    from crosspan.methods.sliding import inference_layout, memory_layout

    box = [(max(0, int(a * n) - p // 4), min(n, int(np.ceil(b * n)) + p // 4))  # roi.regions' margin
           for (a, b), n, p in zip(PANCREAS_BOX, vol.shape, patch, strict=True)]
    layout = inference_layout(torch.device("cpu"))
    x = torch.from_numpy(vol)[None, None]

    def window() -> TileWindow:
        return TileWindow(method, x, patch, 0.5, layout, 2)

    @torch.no_grad()
    def run() -> None:
        method.eval()
        with autocast(amp, torch.device("cpu")), memory_layout(method, layout):
            win = window()
            if zoom == 1.0:
                cover = win.cover()
                win.add(cover)
                win.prob()
            else:
                coarse_probability(method, vol, patch, 0.0, zoom, "cpu", amp, 2, [0])
            fine_pass([win], [()], x, [box], 0.5, 2, max_uncertain=float("inf"))  # the guard keeps the crop pass

    win = window()
    win.done = set(win.cover()) if zoom == 1.0 else set()  # (counted, not evaluated)
    touching, crop, fine = plan_fine([win], [()], [box], 0.5)
    small = [int(np.floor(n / zoom)) for n in vol.shape]  # F.interpolate's size for scale_factor 1/zoom
    exact = len(set(win.touching([box])) - win.done)
    tiles = {"coarse": len(win.done) if zoom == 1.0 else window_tiles(small, patch, 0.0), "fine": fine,
             "fine_pass": "exact" if touching else "crop", "box": box, "crop": crop,
             "fine_if_guard_rejects": fine if touching else fine + exact}  # the crop pass, then the exact pass
    return run, {**tiles, "total": tiles["coarse"] + tiles["fine"]}


def _nnunet_plans(spec: dict[str, Any]) -> dict[str, Any]:
    """A minimal nnU-Net v2 plans document whose 3d_fullres is crosspan's ``nnunet`` network."""
    c = spec["network_config"]
    n = len(c["strides"])
    arch = {"network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
            "arch_kwargs": {"n_stages": n, "features_per_stage": c["filters"],
                            "conv_op": "torch.nn.modules.conv.Conv3d", "kernel_sizes": c["kernel_size"],
                            "strides": c["strides"], "n_conv_per_stage": [2] * n,
                            "n_conv_per_stage_decoder": [2] * (n - 1), "conv_bias": True,
                            "norm_op": "torch.nn.modules.instancenorm.InstanceNorm3d",
                            "norm_op_kwargs": {"eps": 1e-05, "affine": True}, "dropout_op": None,
                            "dropout_op_kwargs": None, "nonlin": "torch.nn.LeakyReLU",
                            "nonlin_kwargs": {"inplace": True}},
            "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"]}
    resample = {"resampling_fn_data": "resample_data_or_seg_to_shape",
                "resampling_fn_seg": "resample_data_or_seg_to_shape",
                "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None},
                "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, "order_z": 0, "force_separate_z": None},
                "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
                "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, "order_z": 0,
                                                       "force_separate_z": None}}
    cfg = {"data_identifier": "nnUNetPlans_3d_fullres", "preprocessor_name": "DefaultPreprocessor", "batch_size": 2,
           "patch_size": spec["patch"], "median_image_size_in_voxels": spec["volume_shape"],
           "spacing": spec["spacing"], "normalization_schemes": ["ZScoreNormalization"],
           "use_mask_for_norm": [False], **resample, "architecture": arch, "batch_dice": False}
    return {"dataset_name": "Dataset999_Bench", "plans_name": "nnUNetPlans",
            "original_median_spacing_after_transp": spec["spacing"],
            "original_median_shape_after_transp": spec["volume_shape"], "image_reader_writer": "SimpleITKIO",
            "transpose_forward": [0, 1, 2], "transpose_backward": [0, 1, 2], "configurations": {"3d_fullres": cfg},
            "experiment_planner_used": "ExperimentPlanner", "label_manager": "LabelManager",
            "foreground_intensity_properties_per_channel": {"0": {
                "max": 4.0, "mean": 0.0, "median": 0.0, "min": -4.0, "percentile_00_5": -3.0,
                "percentile_99_5": 3.0, "std": 1.0}},
            "continue_training": False}


def _nnunet_worker(work: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    import torch
    import torch.nn.functional as F
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    spec = json.loads((work / "spec.json").read_text())
    pre = Path(os.environ["nnUNet_preprocessed"]) / "Dataset999_Bench" / "nnUNetPlans_3d_fullres"
    pre.mkdir(parents=True, exist_ok=True)
    (pre / "placeholder.b2nd").touch()  # initialize() only infers the dataset class from file endings
    dataset_json = {"channel_names": {"0": "MRI"}, "labels": {"background": 0, "pancreas": 1},
                    "numTraining": 2, "file_ending": ".nii.gz"}
    torch.manual_seed(0)
    trainer = nnUNetTrainer(_nnunet_plans(spec), "3d_fullres", 0, dataset_json, device=torch.device("cpu"))
    trainer.initialize()
    b = np.load(work / "batch.npz")
    data = torch.from_numpy(b["image"])
    seg = torch.from_numpy(b["label"]).float()
    shape = np.array(spec["patch"])
    target = [seg if all(s == 1 for s in sc) else
              F.interpolate(seg, size=[int(round(v)) for v in shape * np.array(sc)], mode="nearest")
              for sc in trainer._get_deep_supervision_scales()]
    batch = {"data": data, "target": target}
    vol = torch.from_numpy(np.load(work / "volume.npy"))[None]
    predictor = nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=False,
                                perform_everything_on_device=False, device=torch.device("cpu"), allow_tqdm=False)
    predictor.manual_initialization(trainer.network, trainer.plans_manager, trainer.configuration_manager, None,
                                    dataset_json, "nnUNetTrainer", None)

    def step() -> None:
        trainer.set_deep_supervision_enabled(True)
        trainer.network.train()
        trainer.train_step(batch)

    def sw() -> None:
        trainer.set_deep_supervision_enabled(False)
        predictor.predict_sliding_window_return_logits(vol)

    info = {"params": sum(p.numel() for p in trainer.network.parameters()),
            "tiles": len(predictor._internal_get_sliding_window_slicers(tuple(vol.shape[1:]))),
            "ds_outputs_weighted": int(sum(w > 0 for w in trainer.loss.weight_factors)),
            "torch": torch.__version__}
    return {"step": step, "sw": sw}, info


def _profile(fn: Any) -> str:
    import torch

    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10, max_name_column_width=40)


def worker(role: str, work: Path, threads: int) -> None:
    """Serve JSON-line commands on stdin (``{"op": "step"|"sw"|"profile_step"|"profile_sw"|"quit"}``); reply on
    stdout with the seconds taken (or the profiler table)."""
    reply = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # library prints (nnU-Net's banner) go to stderr, the protocol owns the real stdout
    sys.stdout = sys.stderr
    import torch

    torch.set_num_threads(threads)
    ops, info = (_crosspan_worker if role == "crosspan" else _nnunet_worker)(work)
    reply.write(json.dumps({"ready": True, **info}) + "\n")
    for line in sys.stdin:
        op = json.loads(line)["op"]
        if op == "quit":
            break
        if op.startswith("profile_"):
            reply.write(json.dumps({"table": _profile(ops[op[len("profile_"):]])}) + "\n")
            continue
        t = time.perf_counter()
        ops[op]()
        reply.write(json.dumps({"s": time.perf_counter() - t}) + "\n")


# ----------------------------------------------------------------------------------------------- driver
class Worker:
    def __init__(self, python: str, role: str, work: Path, threads: int, env: dict[str, str]) -> None:
        self.p = subprocess.Popen([python, str(HERE), "--worker", role, "-o", str(work), "--threads", str(threads)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                                  stderr=open(work / f"{role}.log", "w"))
        self.info = self._read()

    def _read(self) -> dict[str, Any]:
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"worker died: see {self.p.args[-3]}/*.log")
        return json.loads(line)

    def ask(self, op: str) -> dict[str, Any]:
        self.p.stdin.write(json.dumps({"op": op}) + "\n")
        self.p.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.p.stdin.write('{"op": "quit"}\n')
        self.p.stdin.flush()
        self.p.wait(timeout=60)


def make_inputs(work: Path, patch: list[int], spacing: list[float]) -> dict[str, Any]:
    from crosspan.models import network_config

    rng = np.random.default_rng(0)
    z, y, x = np.meshgrid(*[np.linspace(-1, 1, p) for p in patch], indexing="ij")
    blob = (z**2 + y**2 + x**2 < 0.3).astype(np.uint8)
    image = (rng.standard_normal((2, 1, *patch)) + blob).astype(np.float32)
    label = np.stack([blob, np.roll(blob, 5, axis=2)])[:, None].astype(np.uint8)
    np.savez(work / "batch.npz", image=image, label=label)
    shape = [57, 126, 163]  # a preprocessed synthetic T1 scan's shape (benchmarks/results/engine.md)
    np.save(work / "volume.npy", rng.standard_normal(shape).astype(np.float32))
    spec = {"patch": patch, "spacing": spacing, "volume_shape": shape,
            "network_config": network_config("nnunet", patch, spacing)}
    (work / "spec.json").write_text(json.dumps(spec, indent=1))
    return spec


def timed(workers: dict[str, Worker], contenders: list[tuple[str, str]], reps: int, warm: int
          ) -> dict[str, list[float]]:
    """``reps`` timings per ``(worker, op)`` contender in alternating order (ABBA...), after ``warm`` untimed calls
    each; keys ``worker`` for the plain op, ``worker:op`` for a variant."""
    def key(w: str, op: str) -> str:
        return w if op in ("step", "sw") else f"{w}:{op}"

    for _ in range(warm):
        for w, op in contenders:
            print(f"{op} warm-up {w}: {workers[w].ask(op)['s']:.2f} s", file=sys.stderr)
    out: dict[str, list[float]] = {key(w, op): [] for w, op in contenders}
    for r in range(reps):
        for w, op in (contenders if r % 2 == 0 else contenders[::-1]):
            out[key(w, op)].append(workers[w].ask(op)["s"])
            print(f"{op} rep {r + 1}/{reps} {w}: {out[key(w, op)][-1]:.2f} s (load {os.getloadavg()[0]:.1f})",
                  file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--worker", choices=["crosspan", "nnunet"])
    ap.add_argument("--nnvenv", default="/tmp/nnvenv")
    ap.add_argument("--patch", default="32,64,64")
    ap.add_argument("--spacing", default="3,1.5,1.5")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--volumes", type=int, default=3, help="timed sliding-window repetitions per tool")
    ap.add_argument("--skip-nnunet", action="store_true",
                    help="time crosspan and its variants only (ratios against crosspan's full window)")
    ap.add_argument("--profile", action="store_true", help="torch.profiler top ops of one step and one volume")
    ap.add_argument("--ops", default="step,sw", help="which timings to run: step, sw or both (comma-separated)")
    ap.add_argument("--variants", default="bf16,contiguous",
                    help="crosspan-only variants also timed (step_<v>, sw_<v> where it exists): bf16, contiguous, "
                         "roi, roi_zoom2, roi_bf16, roi_zoom2_bf16 (sliding window only)")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.output, args.threads)
        return
    work = args.output
    work.mkdir(parents=True, exist_ok=True)
    spec = make_inputs(work, [int(v) for v in args.patch.split(",")], [float(v) for v in args.spacing.split(",")])
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "nnUNet_def_n_proc": str(args.threads),
           "nnUNet_compile": "false", "nnUNet_raw": str(work / "nn_raw"),
           "nnUNet_preprocessed": str(work / "nn_preprocessed"), "nnUNet_results": str(work / "nn_results")}
    load0 = os.getloadavg()
    workers = {"crosspan": Worker(sys.executable, "crosspan", work, args.threads, env)}
    if not args.skip_nnunet:
        workers["nnunet"] = Worker(f"{args.nnvenv}/bin/python", "nnunet", work, args.threads, env)
    t0 = time.time()
    ops = args.ops.split(",")
    variants = [v for v in args.variants.split(",") if v]
    timings = {}
    for op in ("step", "sw"):
        if op not in ops:
            continue
        contenders = [(w, op) for w in workers] + [
            ("crosspan", f"{op}_{v}") for v in variants if f"{op}_{v}" in workers["crosspan"].info["ops"]]
        timings[op] = timed(workers, contenders, args.steps if op == "step" else args.volumes,
                            warm=2 if op == "step" else 1)
    res: dict[str, Any] = {"patch": spec["patch"], "spacing": spec["spacing"], "volume_shape": spec["volume_shape"],
                           "network_config": spec["network_config"], "threads": args.threads,
                           "info": {n: w.info for n, w in workers.items()},
                           **{f"{op}_s": d for op, d in timings.items()}}
    for key, d in timings.items():
        med = {n: float(np.median(v)) for n, v in d.items()}
        res[f"{key}_median_s"] = med
        if "nnunet" in med:
            res[f"{key}_ratio_nnunet_over_crosspan"] = {n: med["nnunet"] / m for n, m in med.items() if n != "nnunet"}
        res[f"{key}_ratio_crosspan_full_over"] = {n: med["crosspan"] / m for n, m in med.items()
                                                  if n.startswith("crosspan:")}
    res["wall_s"] = time.time() - t0
    res["loadavg_before"], res["loadavg_after"] = load0, os.getloadavg()
    if args.profile:
        for op in ops:
            for n, w in workers.items():
                print(f"== {n}: one {op}, top ops by self CPU time ==\n{w.ask('profile_' + op)['table']}")
    for w in workers.values():
        w.close()
    (work / "result.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
