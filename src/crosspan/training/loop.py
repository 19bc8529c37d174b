"""The training loop: plan + cache -> Method.update -> checkpoints, validation, JSONL log, final weights.

The engine talks to the method only through the Method interface (``setup_training``, ``update``, ``predict``,
``state_dict``, ``training_state``), so DG/SSL methods need no engine change.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crosspan.core.atomic import atomic_path, write_json
from crosspan.core.dice import dice
from crosspan.core.distributed import barrier, broadcast_parameters, init_distributed, shutdown
from crosspan.core.errors import CrosspanError
from crosspan.core.parallel import progress_bar
from crosspan.core.seeding import derive_seed
from crosspan.methods.base import Method, label_map_methods, resolve_hparams, trainable_method
from crosspan.methods.sliding import predict_volume
from crosspan.models import network_config
from crosspan.preprocess.plan import Plan
from crosspan.runs.model import Augment, RunModel
from crosspan.runs.run import build_method
from crosspan.training.checkpoint import load_checkpoint, save_checkpoint
from crosspan.training.sampling import PatchSampler, Prefetcher, open_case, unlabeled_sampler
from crosspan.transforms.random_spatial import random_spatial


@dataclass
class TrainConfig:
    plan_dir: str
    run_dir: str
    method: str = "erm"
    network: str = "tiny"
    steps: int = 1000
    batch_size: int = 2
    patch: list[int] | None = None
    seed: int = 0
    hparams: dict[str, Any] = field(default_factory=dict)
    val_every: int = 0
    val_cases: int = 4
    ckpt_every: int = 100
    resume: bool = False
    deterministic: bool = False
    device: str = "cpu"
    amp: str = "none"
    compile: bool = False
    threads: int = 0
    mirror: bool = False
    elastic: float = 0.0
    progress: bool = True
    #: fields the caller chose (the CLI leaves out the ones not given): on resume each must match the run's
    given: tuple[str, ...] = ("method", "network", "seed", "steps")
    #: call ``train``'s ``on_eval(method, step, model, plan)`` every N steps and at the end (0: never)
    eval_every: int = 0


def _model_doc(cfg: TrainConfig, plan: Plan, patch: list[int], world_size: int) -> RunModel:
    cls = trainable_method(cfg.method)
    spacing = list(plan.target_spacing)
    return RunModel(network=cfg.network, network_config=network_config(cfg.network, patch, spacing),
                    method=cfg.method, hparams=resolve_hparams(cls, cfg.hparams),
                    train_domains=sorted(plan.train_domains), patch_size=patch, target_spacing=spacing,
                    seed=cfg.seed, steps=cfg.steps, batch_size=cfg.batch_size,
                    plan_dir=str(Path(cfg.plan_dir).resolve()),
                    augment=Augment(mirror=cfg.mirror, elastic=cfg.elastic), world_size=world_size)


def _setup_torch(cfg: TrainConfig) -> torch.device:
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    elif cfg.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise CrosspanError(None, "CUDA requested but not available", "use --device cpu")
    torch.manual_seed(derive_seed(cfg.seed, "torch"))
    np.random.seed(derive_seed(cfg.seed, "numpy"))
    return torch.device(cfg.device)


def _truncate_log(path: Path, step: int) -> None:
    """Drop log rows after the checkpoint a resumed run restarts from (they are about to be redone)."""
    if not path.is_file():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if int(json.loads(line).get("step", 0)) <= step:
                keep.append(line)
        except (ValueError, AttributeError):
            continue  # a line cut short by kill -9
    with atomic_path(path) as tmp:
        Path(tmp).write_text("".join(k + "\n" for k in keep))


#: what a resumed run must share with the run folder (TrainConfig field -> model.json key)
RESUME_FIELDS = {"method": "method", "network": "network", "seed": "seed"}


def resumed_model(cfg: TrainConfig, run_dir: Path, rank: int = 0) -> RunModel:
    """The run's ``model.json`` for ``--resume``: a changed method, network or seed is refused; a larger
    ``--steps`` extends the run (written back to ``model.json``, the LR schedule stretched), a smaller one is
    refused."""
    model = RunModel.load(run_dir)
    for field_name, key in RESUME_FIELDS.items():
        want, had = getattr(cfg, field_name), getattr(model, key)
        if field_name in cfg.given and str(want) != str(had):
            raise CrosspanError(run_dir, f"--resume with --{field_name} {want}, but the run was trained with "
                                f"{had}", f"drop --{field_name} (or pass {had}) to resume, or "
                                "train into a new -o folder")
    old = model.steps
    if "steps" in cfg.given and cfg.steps != old:
        if cfg.steps < old:
            raise CrosspanError(run_dir, f"--resume with --steps {cfg.steps}, fewer than the run's {old}",
                                f"pass --steps {old} or more (a larger value extends the run)")
        model.extended_from = model.extended_from or old
        model.steps = cfg.steps
        if rank == 0:
            model.save(run_dir)
    return model


def _warn_patch(patch: list[int], cases: list) -> None:
    shapes = [tuple(np.asarray(c.image).shape[-3:]) for c in cases]
    if shapes and all(any(p > s for p, s in zip(patch, shape, strict=True)) for shape in shapes):
        from crosspan.core.errors import warn

        warn(None, f"patch {patch} is larger than every preprocessed training image along some axis (largest "
             f"{max(shapes)}); patches are padded", "pass a smaller --patch (or preprocess at a finer --spacing)")


def _check_training_input(method: Method, plan: Plan, sampler: PatchSampler, name: str) -> None:
    """Label-map methods need tissue maps in the batches; a label-map protocol needs a label-map method."""
    wants_maps = method.training_input == "label-maps"
    if wants_maps and "tissue" not in sampler.aux_keys:
        raise CrosspanError(None, f"method '{name}' trains on tissue label maps, and the training cases have none",
                            "preprocess a catalog with a 'tissue' column (`crosspan synth cohort --tissue-maps`, "
                            "`crosspan data splits --training-input label-maps`)")
    if plan.training_input == "label-maps" and not wants_maps:
        raise CrosspanError(None, f"the plan's training input is label maps, and method '{name}' trains on images",
                            f"use a label-map method ({', '.join(label_map_methods())}) or splits made with "
                            "--training-input images")


def _log(run_dir: Path, row: dict[str, Any]) -> None:
    with (run_dir / "log.jsonl").open("a") as fh:
        fh.write(json.dumps(row) + "\n")


def validate(method: Method, cases: list, patch: list[int], device: torch.device, amp: str) -> float:
    scores = []
    for c in cases:
        prob = predict_volume(method, np.asarray(c.image), patch, overlap=0.25, device=device, amp=amp)
        scores.append(dice(prob.argmax(0), np.asarray(c.label), empty=1.0))
    return float(np.mean(scores)) if scores else float("nan")


def train(cfg: TrainConfig, on_eval: Callable[[Method, int, RunModel, Plan], Any] | None = None
          ) -> dict[str, Any]:
    """Train (or resume) into ``cfg.run_dir``; returns a summary. ``on_eval`` (rank 0, every ``cfg.eval_every``
    steps) scores checkpoints, e.g. :class:`crosspan.evaluation.checkpoint_eval.CheckpointScorer`."""
    run_dir, plan_dir = Path(cfg.run_dir), Path(cfg.plan_dir)
    plan = Plan.load(plan_dir)
    rank, world = init_distributed(cfg.device)
    if world > 1 and cfg.device.startswith("cuda"):
        cfg.device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    device = _setup_torch(cfg)
    ckpt = run_dir / "checkpoint_last.pt"
    if (run_dir / "model.json").is_file() and cfg.resume:
        model = resumed_model(cfg, run_dir, rank)
    elif (run_dir / "model.json").is_file() and ckpt.is_file():
        raise CrosspanError(run_dir, "run folder already has a checkpoint", "pass --resume, or use another -o")
    else:
        model = _model_doc(cfg, plan, list(cfg.patch or plan.default_patch(cfg.network)), world)
        if rank == 0:
            run_dir.mkdir(parents=True, exist_ok=True)
            write_json(run_dir / "plan.json", plan.to_json())
            model.save(run_dir)
    patch, steps = list(model.patch_size), model.steps
    aug = (model.augment or Augment(mirror=cfg.mirror, elastic=cfg.elastic)).to_json()  # a resumed run keeps its own
    domains = model.train_domains
    method = build_method(model).to(device)
    method.network.to(memory_format=torch.channels_last_3d)  # faster 3D convolutions on CPU (oneDNN) and GPU
    method.setup_training(steps, cfg.amp)
    dormant = method.dormant_reason(method.hparams, steps)
    if dormant and rank == 0:
        from crosspan.core.errors import warn

        warn(None, f"{method.name}: {dormant}", "lower it with --hp KEY=N (e.g. half the steps), or train longer")
    broadcast_parameters(method)
    start = load_checkpoint(ckpt, method) if cfg.resume and ckpt.is_file() else 0
    extend = getattr(method, "extend_schedule", None)  # SupervisedMethod's; a plugin method may lack it
    if start and model.extended_from and callable(extend):
        extend(steps, start)  # --resume --steps N beyond the run's end
    if rank == 0 and cfg.resume:
        _truncate_log(run_dir / "log.jsonl", start)
    if cfg.compile:
        method.network.compile()

    catalog = _catalog(plan_dir)
    cache = plan_dir / "cache"
    train_cases = [open_case(cache, c, domains.index(catalog.get(c, domains[0])) if catalog.get(c) in domains else 0)
                   for c in plan.cases.train]
    val = plan.cases.val[: cfg.val_cases] if cfg.val_every and rank == 0 else []
    val_cases = [open_case(cache, c) for c in val]
    seed = model.seed if world == 1 else derive_seed(model.seed, "rank", rank)
    sampler = PatchSampler(train_cases, patch, model.batch_size, seed)
    if rank == 0 and start == 0:
        _warn_patch(patch, train_cases)
    _check_training_input(method, plan, sampler, model.method)
    loader = Prefetcher(sampler, start, steps)
    unlabeled, unlabeled_keys = _unlabeled_loader(method, plan, cache, catalog, domains, patch, model, seed, start,
                                                  steps)
    t0, last = time.time(), {}
    with progress_bar(disable=not cfg.progress or rank > 0) as bar:
        task = bar.add_task(f"training {model.method}", total=steps, completed=start)
        for step, b in loader:
            g = torch.Generator().manual_seed(derive_seed(model.seed, "augment", step))
            batch = augmented_batch(b, g, aug, device, sampler.aux_keys, sampler.scalar_keys)
            ubatch = None
            if unlabeled is not None:
                ustep, ub = next(unlabeled)
                ug = torch.Generator().manual_seed(derive_seed(model.seed, "u-aug", ustep))
                ubatch = augmented_batch(ub, ug, aug, device, unlabeled_keys[0], unlabeled_keys[1])
                del ubatch["label"]  # unlabeled: no label reaches the method
            method.train()
            # methods draw their random augmentations from torch's global generator: reseed it per step so a
            # resumed run repeats exactly what an uninterrupted one does
            torch.manual_seed(derive_seed(model.seed, "method", step))
            last = method.update(batch, ubatch)
            done = step + 1
            row = {"step": done, "time": round(time.time() - t0, 3), **{k: float(v) for k, v in last.items()}}
            if cfg.val_every and val_cases and (done % cfg.val_every == 0 or done == steps):
                row["val_dice"] = validate(method, val_cases, patch, device, cfg.amp)
            if rank == 0:
                _log(run_dir, row)
            if rank == 0 and (done % cfg.ckpt_every == 0 or done == steps):
                save_checkpoint(ckpt, method, done)
            if rank == 0 and on_eval is not None and cfg.eval_every and (done % cfg.eval_every == 0 or done == steps):
                on_eval(method, done, model, plan)
            bar.update(task, completed=done, description=f"training {model.method} loss {last.get('loss', 0):.3f}")
    loader.close()
    if rank == 0:
        with atomic_path(run_dir / "model_final.pt") as tmp:
            torch.save(method.state_dict(), tmp)
    barrier()
    shutdown()
    return {"run_dir": str(run_dir), "steps": steps, "started_at": start, "seconds": time.time() - t0, **last,
            "config": asdict(cfg), "pid": os.getpid(), "rank": rank, "world_size": world,
            "weights_checksum": float(sum(float(p.detach().double().sum()) for p in method.parameters()))}


def augmented_batch(b: dict[str, np.ndarray], g: torch.Generator, aug: dict[str, Any], device: torch.device,
                    aux_keys: list[str], scalar_keys: list[str]) -> dict[str, torch.Tensor]:
    """Tensors of one sampled batch after spatial augmentation. Auxiliary maps (``tissue``, ``pseudo_label``) are
    stacked with the label on the channel axis, so one nearest-neighbour warp and the same flips move them alike."""
    maps = torch.from_numpy(np.concatenate([b["label"]] + [b[k] for k in aux_keys], axis=1)).long()
    img, maps, _ = random_spatial(torch.from_numpy(b["image"]), maps, g, mirror=bool(aug.get("mirror")),
                                  p_elastic=float(aug.get("elastic", 0.0)))
    batch = {"image": img.to(device).contiguous(memory_format=torch.channels_last_3d),
             "label": maps[:, :1].to(device), "domain": torch.from_numpy(b["domain"])}
    batch.update({k: maps[:, i + 1:i + 2].to(device) for i, k in enumerate(aux_keys)})
    batch.update({k: torch.from_numpy(b[k]).to(device) for k in scalar_keys})
    return batch


def _unlabeled_loader(method: Method, plan: Plan, cache: Path, catalog: dict[str, str],
                      domains: list[str], patch: list[int], model: RunModel, seed: int, start: int,
                      steps: int) -> tuple[Any, tuple[list[str], list[str]]]:
    """Batches of unlabeled patches for methods with ``needs_unlabeled`` (SSL); ``domain`` is the index in the
    training domains, or -1 for a domain outside them."""
    if not method.needs_unlabeled:
        return None, ([], [])
    names = plan.cases.unlabeled
    if not names:
        raise CrosspanError(None, f"method '{model.method}' needs unlabeled cases",
                            "preprocess with a splits JSON whose fold lists `unlabeled` cases")
    cases = [open_case(cache, c, domains.index(catalog[c]) if catalog.get(c) in domains else -1, need_label=False)
             for c in names]
    sampler = unlabeled_sampler(cases, patch, model.batch_size, derive_seed(seed, "unlabeled"))
    return iter(Prefetcher(sampler, start, steps)), (sampler.aux_keys, sampler.scalar_keys)


def _catalog(plan_dir: Path) -> dict[str, str]:
    """case_id -> domain ``CENTER:SEQUENCE`` from the plan's catalog copy."""
    from crosspan.data.catalog import load_catalog

    path = plan_dir / "catalog.csv"
    if not path.is_file():
        return {}
    df = load_catalog(path)
    return {str(c): f"{ce}:{s}" for c, ce, s in zip(df["case_id"], df["center"], df["sequence"], strict=True)}
