"""`crosspan train`: train a method on a preprocessed plan folder (resumable)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from crosspan.cli.common import (
    AMP_HELP,
    DEVICE_HELP,
    check_amp,
    console,
    fail,
    handle_errors,
    resolve_device,
    split_list,
)

if TYPE_CHECKING:
    from crosspan.methods.base import Method
    from crosspan.preprocess.plan import Plan
    from crosspan.runs.model import RunModel


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("train")(train_cmd)


def parse_hparams(items: list[str] | None) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in items or []:
        if "=" not in item:
            raise fail(f"bad --hp '{item}': write key=value, e.g. --hp lr=0.001")
        k, v = item.split("=", 1)
        out[k.strip()] = _value(v.strip())
    return out


def _value(v: str) -> object:
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def check_counts(**counts: int) -> None:
    """Each count (``--steps``, ``--batch-size``, ...) is at least 1."""
    for name, value in counts.items():
        if value < 1:
            flag = "--" + name.replace("_", "-")
            raise fail(f"{flag} {value}: must be at least 1")


#: the size each patch axis must be a multiple of, per network (its downsampling), and the smallest patch
PATCH_MULTIPLE = {"tiny": 8, "swinunetr": 32}
MIN_PATCH = 16


def parse_patch(text: str | None, network: str) -> list[int] | None:
    """``"32,48,48"`` -> ``[32, 48, 48]``: three integers >= 16, multiples of the network's downsampling."""
    if not text:
        return None
    parts = split_list(text)
    try:
        sizes = [int(v) for v in parts]
    except ValueError:
        raise fail(f"--patch {text!r}: write three integers z,y,x, e.g. --patch 32,64,64") from None
    multiple = PATCH_MULTIPLE.get(network, 16)
    if len(sizes) != 3 or any(v < MIN_PATCH or v % multiple for v in sizes):
        raise fail(f"--patch {text!r}: need three sizes z,y,x, each >= {MIN_PATCH} and a multiple of {multiple} "
                   f"(network {network}), e.g. --patch 32,64,64")
    return sizes


def _checkpoint_scorer(plan_dir: Path, output: Path, every: int, domains: str | None, test: bool,
                       device: str) -> Callable[..., object] | None:
    """The ``on_eval`` callback of ``--eval-every``; its cases are checked here, before any training."""
    if every < 0:
        raise fail(f"--eval-every {every}: must be >= 0 (0: off)")
    if not every:
        if domains:
            raise fail("--eval-domains needs --eval-every N (N >= 1)")
        return None
    from crosspan.evaluation.checkpoint_eval import CheckpointScorer, eval_cases
    from crosspan.preprocess.plan import load_plan

    plan = load_plan(plan_dir)
    chosen = split_list(domains) or _plan_domains(plan_dir, plan)
    eval_cases(plan_dir, plan, chosen, test)
    scorer: list[CheckpointScorer] = []

    def on_eval(method: Method, step: int, model: RunModel, run_plan: Plan) -> None:
        if not scorer:
            scorer.append(CheckpointScorer(output, plan_dir, run_plan, model, chosen, test, device))
        scorer[0](method, step)

    return on_eval


def _plan_domains(plan_dir: Path, plan: Plan) -> list[str]:
    from crosspan.data.catalog import load_catalog

    path = plan_dir / "catalog.csv"
    cat = load_catalog(path) if path.is_file() else None
    if cat is None:
        raise fail(f"{path}: no catalog copy in the plan folder. Fix: preprocess again")
    ids = set(plan.cases.val) | set(plan.cases.test)
    rows = cat[cat["case_id"].astype(str).isin(ids)]
    return sorted(set(rows["center"].astype(str) + ":" + rows["sequence"].astype(str)))


@handle_errors
def train_cmd(
    plan_dir: Path = typer.Argument(..., help="Plan folder written by `crosspan preprocess`."),
    output: Path = typer.Option(..., "-o", "--output", help="Run folder (model.json, checkpoints, log.jsonl)."),
    method: str = typer.Option(None, "--method", help="Method name, default erm; `crosspan methods` lists every "
                               "registered one with its kind, paper and hyperparameters."),
    network: str = typer.Option(None, "--network", help="tiny (default) | nnunet | segresnet | swinunetr | "
                                "attentionunet."),
    steps: int = typer.Option(None, "--steps", help="Training steps, >= 1 (one batch each; default 1000). With "
                              "--resume a larger value extends the run, its LR schedule stretched to the new end."),
    batch_size: int = typer.Option(2, "--batch-size", help="Patches per step (>= 1)."),
    patch: str = typer.Option(None, "--patch", help="Patch size z,y,x (default from the plan)."),
    seed: int = typer.Option(None, "--seed", help="Seed for sampling, augmentation and initialisation (default 0)."),
    hp: list[str] = typer.Option(None, "--hp", help="Hyperparameter override key=value (repeatable)."),
    val_every: int = typer.Option(0, "--val-every", help="Validation Dice every N steps (0: off)."),
    val_cases: int = typer.Option(4, "--val-cases", help="Validation cases used."),
    ckpt_every: int = typer.Option(100, "--ckpt-every", help="Checkpoint every N steps."),
    resume: bool = typer.Option(False, "--resume", help="Continue from checkpoint_last.pt of the run folder."),
    deterministic: bool = typer.Option(False, "--deterministic", help="Deterministic algorithms (bitwise on CPU)."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    amp: str = typer.Option("none", "--amp", help=AMP_HELP),
    compile_: bool = typer.Option(False, "--compile", help="torch.compile the network."),
    threads: int = typer.Option(0, "--threads", help="CPU threads for torch (0: default)."),
    mirror: bool = typer.Option(False, "--mirror", help="Random mirroring augmentation (nnU-Net default)."),
    elastic: float = typer.Option(0.0, "--elastic", help="Probability of a smooth elastic deformation per patch."),
    eval_every: int = typer.Option(0, "--eval-every", help="Score the model every N steps (and at the end) on "
                                   "--eval-domains as predict + evaluate do: <run>/checkpoints.csv (0: off)."),
    eval_domains: str = typer.Option(None, "--eval-domains", help="Domains scored by --eval-every, e.g. "
                                     "A:T1,B:OOP (default: every domain of the plan's val/test cases)."),
    eval_test: bool = typer.Option(True, "--eval-test/--no-eval-test", help="Also score the plan's test cases "
                                   "(rows marked oracle: picking a checkpoint by them peeks at test labels)."),
) -> None:
    """Train; kill it at any time and rerun with --resume to continue from the last checkpoint."""
    from crosspan.methods.base import resolve_hparams, trainable_method
    from crosspan.training.loop import TrainConfig, train

    device = resolve_device(device)
    check_amp(amp, device)
    given = tuple(k for k, v in (("method", method), ("network", network), ("seed", seed), ("steps", steps))
                  if v is not None)
    method, network = method or "erm", network or "tiny"
    seed, steps = 0 if seed is None else seed, 1000 if steps is None else steps
    check_counts(steps=steps, batch_size=batch_size, ckpt_every=ckpt_every, val_cases=val_cases)
    if val_every < 0 or not 0.0 <= elastic <= 1.0:
        raise fail("--val-every must be >= 0 and --elastic a probability in [0, 1]")
    patch_size = parse_patch(patch, network)
    hparams = parse_hparams(hp)
    # a zero-shot model, unknown keys and values outside their bounds fail before any work
    resolve_hparams(trainable_method(method), hparams)
    on_eval = _checkpoint_scorer(plan_dir, output, eval_every, eval_domains, eval_test, device)
    cfg = TrainConfig(str(plan_dir), str(output), method, network, steps, batch_size, patch_size, seed, hparams,
                      val_every, val_cases, ckpt_every, resume, deterministic, device, amp, compile_, threads, mirror,
                      elastic, given=given, eval_every=eval_every)
    res = train(cfg, on_eval)
    console.print(f"trained {res['steps']} steps (from {res['started_at']}) in {res['seconds']:.0f} s; "
                  f"final loss {res.get('loss', float('nan')):.4f} -> {output}")
