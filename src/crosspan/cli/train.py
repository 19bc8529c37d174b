"""`crosspan train`: train a method on a preprocessed plan folder (resumable)."""

from __future__ import annotations

from pathlib import Path

import typer

from crosspan.cli.common import AMP_HELP, check_amp, console, fail, handle_errors, split_list


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


@handle_errors
def train_cmd(
    plan_dir: Path = typer.Argument(..., help="Plan folder written by `crosspan preprocess`."),
    output: Path = typer.Option(..., "-o", "--output", help="Run folder (model.json, checkpoints, log.jsonl)."),
    method: str = typer.Option("erm", "--method", help="Method name (registered methods)."),
    network: str = typer.Option("tiny", "--network", help="tiny | nnunet | segresnet | swinunetr | attentionunet."),
    steps: int = typer.Option(1000, "--steps", help="Training steps (one batch each)."),
    batch_size: int = typer.Option(2, "--batch-size", help="Patches per step."),
    patch: str = typer.Option(None, "--patch", help="Patch size z,y,x (default from the plan)."),
    seed: int = typer.Option(0, "--seed", help="Seed for sampling, augmentation and initialisation."),
    hp: list[str] = typer.Option(None, "--hp", help="Hyperparameter override key=value (repeatable)."),
    val_every: int = typer.Option(0, "--val-every", help="Validation Dice every N steps (0: off)."),
    val_cases: int = typer.Option(4, "--val-cases", help="Validation cases used."),
    ckpt_every: int = typer.Option(100, "--ckpt-every", help="Checkpoint every N steps."),
    resume: bool = typer.Option(False, "--resume", help="Continue from checkpoint_last.pt of the run folder."),
    deterministic: bool = typer.Option(False, "--deterministic", help="Deterministic algorithms (bitwise on CPU)."),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda | cuda:N."),
    amp: str = typer.Option("none", "--amp", help=AMP_HELP),
    compile_: bool = typer.Option(False, "--compile", help="torch.compile the network."),
    threads: int = typer.Option(0, "--threads", help="CPU threads for torch (0: default)."),
    mirror: bool = typer.Option(False, "--mirror", help="Random mirroring augmentation (nnU-Net default)."),
    elastic: float = typer.Option(0.0, "--elastic", help="Probability of a smooth elastic deformation per patch."),
) -> None:
    """Train; kill it at any time and rerun with --resume to continue from the last checkpoint."""
    from crosspan.methods.base import get_method, resolve_hparams
    from crosspan.training.loop import TrainConfig, train

    check_amp(amp, device)
    hparams = parse_hparams(hp)
    resolve_hparams(get_method(method), hparams)  # unknown keys fail before any work
    cfg = TrainConfig(str(plan_dir), str(output), method, network, steps, batch_size,
                      [int(v) for v in split_list(patch)] if patch else None, seed, hparams, val_every, val_cases,
                      ckpt_every, resume, deterministic, device, amp, compile_, threads, mirror, elastic)
    res = train(cfg)
    console.print(f"trained {res['steps']} steps (from {res['started_at']}) in {res['seconds']:.0f} s; "
                  f"final loss {res.get('loss', float('nan')):.4f} -> {output}")
