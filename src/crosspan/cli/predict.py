"""`crosspan predict`: masks in the source geometry from a trained run folder, or from a zero-shot foundation
model named with ``--method`` (no run folder)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from crosspan.cli.common import AMP_HELP, DEVICE_HELP, check_amp, console, fail, handle_errors, resolve_device

if TYPE_CHECKING:
    from crosspan.inference.roi import RoiReport


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("predict")(predict_cmd)


@handle_errors
def predict_cmd(
    run_dir: Path = typer.Argument(None, help="Run folder written by `crosspan train` (left out with --method)."),
    source: Path = typer.Argument(None, help="Image file, folder of images, DICOM series, catalog CSV or dataset."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder for <case_id>.nii.gz masks."),
    overlap: float = typer.Option(0.5, "--overlap", help="Sliding-window overlap."),
    roi: str = typer.Option("none", "--roi", help="none: full sliding window | auto: a coarse pass finds the "
                            "foreground, then only the full window's tiles that touch it (same values there) | "
                            "fast: or the window on its crop where cheaper (not exact; docs/engine.md)."),
    roi_zoom: float = typer.Option(1.0, "--roi-zoom", help="With --roi auto: run the coarse pass on the image "
                                   "shrunk this many times (1: full resolution)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Re-preprocess every image, even one the run's plan "
                                  "has cached (by default such a case is read from PLAN_DIR/cache: same mask)."),
    no_resume: bool = typer.Option(False, "--no-resume", help="Predict every case again, even one whose mask this "
                                   "folder already holds from the same weights and settings (skipped by default)."),
    tta: bool = typer.Option(False, "--tta", help="Mirror test-time augmentation (8 flips)."),
    post: str = typer.Option("lcc", "--postprocess", help="lcc | none | min-volume:ML."),
    save_probabilities: bool = typer.Option(False, "--save-probabilities", help="Also write probabilities/."),
    cases: str = typer.Option("test", "--cases", help="For a catalog: which split (test, val, train) or all; with "
                                                      "--splits, that list of its fold."),
    splits: Path = typer.Option(None, "--splits", help="Splits JSON: predict the --cases list of its fold."),
    fold: str = typer.Option("0", "--fold", help="Fold of --splits: its index or name (as `crosspan preprocess "
                             "--fold`)."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    amp: str = typer.Option("none", "--amp", help=AMP_HELP),
    threads: int = typer.Option(0, "--threads", help="CPU threads for torch (0: default)."),
    method: str = typer.Option(None, "--method", help="Zero-shot model instead of a run folder (the "
                               "`zero-shot` kinds of `crosspan methods`, e.g. litemedsam); see docs/foundation.md."),
    hp: list[str] = typer.Option(None, "--hp", help="Zero-shot hyperparameter KEY=VALUE (repeatable), e.g. "
                                 "prompt=oracle-box|jittered-box|model-box, box_model=RUN_DIR, checkpoint=PATH."),
) -> None:
    """Sliding-window prediction, post-processing, written in the exact source geometry.

    With --method NAME a zero-shot foundation model segments from box prompts instead (no run folder):
    `crosspan predict --method litemedsam DATA -o OUT --hp prompt=oracle-box`."""
    import torch

    from crosspan.inference.predict import predict

    device = resolve_device(device)
    check_amp(amp, device)
    if threads > 0:
        torch.set_num_threads(threads)
    if method:
        from crosspan.inference.zeroshot import predict_zero_shot

        if source is not None:
            raise fail("--method names a zero-shot model: give only DATA, no run folder")
        if run_dir is None:
            raise fail("missing DATA (image, folder, catalog CSV or dataset)")
        from crosspan.cli.train import parse_hparams

        written = predict_zero_shot(method, parse_hparams(hp), run_dir, output, cases, str(splits) if splits else None,
                                    fold, device, post, resume=not no_resume)
        console.print(f"wrote {len(written)} masks -> {output}")
        return
    if run_dir is None or source is None:
        raise fail("give RUN_DIR and DATA, or --method NAME for a zero-shot model and DATA")
    reports: dict[str, RoiReport] = {}
    stats: dict[str, int] = {}
    written = predict(run_dir, source, output, overlap, tta, post, save_probabilities, cases,
                      str(splits) if splits else None, device, amp, fold=fold, roi=roi, reports=reports,
                      roi_zoom=roi_zoom, use_cache=not no_cache, cache_stats=stats, resume=not no_resume)
    resumed = stats.get("resumed", 0)
    if resumed:
        console.print(f"resumed: {resumed} of {len(written)} case(s) already predicted in {output} with the same "
                      "weights and settings, skipped (--no-resume predicts them again)", highlight=False)
    if not no_cache:
        console.print(f"plan cache: {stats.get('cached', 0)} of {len(written) - resumed} case(s) taken from the "
                      "run's plan cache (--no-cache re-preprocesses them)", highlight=False)
    if reports:
        _print_roi(reports)
        from crosspan.core.atomic import write_json

        write_json(output / "roi.json", {case: rep.to_dict() for case, rep in reports.items()})
    console.print(f"wrote {len(written)} masks -> {output}")


def _print_roi(reports: dict[str, RoiReport]) -> None:
    """One line per fallback and the tile totals of both passes against the full window."""
    for case, rep in reports.items():
        if rep.fallback:
            console.print(f"[yellow]roi fallback[/] {case}: {rep.fallback}; used the full window", highlight=False)
    coarse = sum(r.tiles_coarse for r in reports.values())
    fine = sum(r.tiles_fine for r in reports.values())
    full = sum(r.tiles_full_window for r in reports.values())
    widened = sum(r.widened > 0 for r in reports.values())
    console.print(f"roi: {coarse} coarse + {fine} fine tiles = {(coarse + fine) / max(full, 1):.0%} of the full "
                  f"window's {full}; {widened} widened, {sum(bool(r.fallback) for r in reports.values())} fell back",
                  highlight=False)

