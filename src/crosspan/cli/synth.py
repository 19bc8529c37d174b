"""`crosspan synth`: physics-based synthetic multi-center, multi-sequence pancreas MRI cohort."""

from __future__ import annotations

from pathlib import Path

import typer

from crosspan.cli.common import console, handle_errors, split_list

synth_app = typer.Typer(help="Synthetic abdominal MRI cohort (T1 venous, T2 HASTE, OOP/IP) with pancreas labels.",
                        no_args_is_help=True)

SET_HELP = ("Shift dial: override one parameter, e.g. T1.TE=2.0, scanner.snr=20, B.T2.TR=1800 (repeatable). "
            "Keys: scanner.KEY, SEQUENCE.KEY or CENTER.SEQUENCE.KEY.")


def register(app: typer.Typer) -> None:
    app.add_typer(synth_app, name="synth")


def _centers(centers_file: Path | None, sets: list[str] | None, overrides_file: Path | None,
             profile: str = "default") -> dict:
    from crosspan.synth.profiles import load_profile
    from crosspan.synth.scanner import apply_overrides, load_centers, parse_overrides

    base = load_centers(centers_file)
    if profile != "default":
        base.update(load_profile(profile).centers)
    return apply_overrides(base, parse_overrides(sets or [], overrides_file))


PROFILE_HELP = ("default: centers A-D, default anatomy; stress: test-only centers S1-S4 and anatomies outside the "
                "default ranges on every axis (docs/synth.md). Never train or tune on stress.")


@synth_app.command("cohort")
@handle_errors
def cohort_cmd(
    output: Path = typer.Argument(..., help="Output folder (CrossPan release layout); replaced atomically."),
    patients: int = typer.Option(12, "--patients", "-n", help="Number of patients (one anatomy each)."),
    centers: str = typer.Option(None, "--centers", help="Comma-separated center presets (see `synth centers`); "
                                "default A,B,C, or every center of --profile."),
    sequences: str = typer.Option("T1,T2,OOP", "--sequences", help="Comma-separated sequences: T1, T2, OOP, IP."),
    seed: int = typer.Option(0, "--seed", help="Random seed: same seed, same files."),
    shape: str = typer.Option("default", "--shape", help="Volume size: default (~1.5 mm in-plane) or small."),
    profile: str = typer.Option("default", "--profile", help=PROFILE_HELP),
    workers: int = typer.Option(None, "--workers", help="Worker processes (default: CPU count)."),
    tissue_maps: bool = typer.Option(False, "--tissue-maps", help="Also write tissue label maps to OUT/tissues/."),
    centers_file: Path = typer.Option(None, "--centers-file", help="YAML file of extra or replaced center presets."),
    set_: list[str] = typer.Option(None, "--set", help=SET_HELP),
    overrides: Path = typer.Option(None, "--overrides", help="YAML file of overrides (same keys as --set)."),
) -> None:
    """Generate N patients rendered at their center as every requested sequence, with pancreas labels."""
    from crosspan.synth.cohort import write_cohort
    from crosspan.synth.profiles import load_profile

    prof = load_profile(profile)
    cfg = _centers(centers_file, set_, overrides, profile)
    names = split_list(centers) if centers else (list(prof.centers) if profile != "default" else ["A", "B", "C"])
    out = write_cohort(output, patients, cfg, names, split_list(sequences), seed, size=shape,
                       workers=workers, tissue_maps=tissue_maps, anatomy=prof.anatomy)
    console.print(f"cohort: {patients} patients x {len(split_list(sequences))} sequences -> {out}")


@synth_app.command("render")
@handle_errors
def render_cmd(
    labels: Path = typer.Argument(..., help="Folder of label maps (NIfTI .nii.gz / .nii), one patient each."),
    output: Path = typer.Argument(..., help="Output folder (CrossPan release layout + manifest.csv); must be new "
                                  "or empty; written atomically."),
    sequences: str = typer.Option("T1,T2,OOP", "--sequences", help="Comma-separated sequences: T1, T2, OOP, IP."),
    centers: str = typer.Option("A,B", "--centers", help="Comma-separated center presets, assigned round-robin "
                                "to the maps (see `synth centers`)."),
    mapping: Path = typer.Option(None, "--mapping", help="YAML mapping label id -> tissue class (see "
                                 "docs/labelmap.md)."),
    preset: str = typer.Option(None, "--preset", help="Built-in mapping: crosspan | totalseg-ct | totalseg-mr."),
    split: str = typer.Option(None, "--split", help="Put every case in this split (train | val | test); default "
                              "~60/20/20 per center by seed."),
    seed: int = typer.Option(0, "--seed", help="Random seed: same seed, same images."),
    workers: int = typer.Option(1, "--workers", help="Worker processes."),
    centers_file: Path = typer.Option(None, "--centers-file", help="YAML file of extra or replaced center presets."),
    set_: list[str] = typer.Option(None, "--set", help=SET_HELP),
) -> None:
    """Render any folder of label maps (cohort tissue maps, TotalSegmentator CT/MR, your own) through a label ->
    tissue mapping as every requested sequence, with pancreas labels and tissue maps (a dataset crosspan reads)."""
    from crosspan.cli.common import fail
    from crosspan.synth.render_labels import load_mapping, preset_path, render_folder

    if (mapping is None) == (preset is None):
        raise fail("give exactly one of --mapping FILE or --preset NAME (crosspan | totalseg-ct | totalseg-mr)")
    spec = load_mapping(mapping if mapping is not None else preset_path(preset))
    out, warnings = render_folder(labels, output, spec, _centers(centers_file, set_, None), split_list(centers),
                                  split_list(sequences), seed, split=split, workers=workers)
    for w in warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")
    console.print(f"rendered {len(list((out / 'tissues').glob('*.nii.gz')))} label maps x "
                  f"{len(split_list(sequences))} sequences -> {out}")


@synth_app.command("labelmaps")
@handle_errors
def labelmaps_cmd(
    data: Path = typer.Argument(..., help="Dataset folder or catalog CSV of real scans with pancreas labels."),
    output: Path = typer.Option(..., "-o", "--output", help="New or empty folder: manifest.csv, images/, labels/, "
                                "tissues/ (written atomically)."),
    segmenter: str = typer.Option(..., "--segmenter", help="A packaged organ segmenter (`crosspan methods`: "
                                   "zero-shot, automatic; docs/foundation.md)."),
    hp: list[str] = typer.Option(None, "--hp", help="Segmenter hyperparameter KEY=VALUE, e.g. weights=DIR, cli=PATH."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N."),
    threads: int = typer.Option(0, "--threads", help="CPU threads (0: default)."),
) -> None:
    """Whole-abdomen tissue maps of real scans for label-map training: the segmenter's organ map of each labelled
    scan through its label preset, with the scan's own pancreas label burned in (docs/labelmap.md)."""
    import torch

    from crosspan.cli.common import resolve_device
    from crosspan.cli.train import parse_hparams
    from crosspan.inference.labelmaps import segmenter_labelmaps

    if threads > 0:
        torch.set_num_threads(threads)
    out, unlabelled = segmenter_labelmaps(data, output, segmenter, parse_hparams(hp), resolve_device(device))
    if unlabelled:
        console.print(f"[yellow]warning:[/] {unlabelled} scan(s) without a pancreas label left out", highlight=False)
    console.print(f"label maps -> {out / 'manifest.csv'} (train with `crosspan data splits {out / 'manifest.csv'} "
                  "... --training-input label-maps`)", highlight=False)


@synth_app.command("preview")
@handle_errors
def preview_cmd(
    cohort: Path = typer.Argument(..., help="Cohort folder written by `crosspan synth cohort`."),
    output: Path = typer.Option(Path("preview.png"), "-o", "--output", help="PNG to write."),
    patient: int = typer.Option(0, "--patient", help="Which patient of each center to show (index)."),
) -> None:
    """Draw a montage (sequences x centers) of the axial slice through the pancreas with the label contour."""
    from crosspan.synth.preview import draw_preview

    console.print(f"preview -> {draw_preview(cohort, output, patient)}")


@synth_app.command("centers")
@handle_errors
def centers_cmd(
    centers_file: Path = typer.Option(None, "--centers-file", help="YAML file of extra or replaced presets."),
    set_: list[str] = typer.Option(None, "--set", help=SET_HELP),
    profile: str = typer.Option("default", "--profile", help=PROFILE_HELP),
) -> None:
    """List the center presets: field, SNR, and per sequence TR/TE/FA and voxel spacing."""
    for name, c in _centers(centers_file, set_, None, profile).items():
        typer.echo(f"{name}: {c.get('description', '')}")
        typer.echo(f"   field {c['field']} T, snr {c['snr']}, b1 {c.get('b1')}, bias {c.get('bias')}, "
                   f"r1 {c.get('r1')}, gain {c.get('gain')}, fov {c.get('fov')}, "
                   f"stored {c.get('dtype', 'float32')} {c.get('affine', 'LPS')}")
        for s, p in c["sequences"].items():
            extra = ", ".join(f"{k} {v}" for k, v in p.items() if k not in ("kind", "spacing", "matrix"))
            typer.echo(f"   {s:4s} {p.get('kind', 'spgr'):5s} {extra}; spacing {p['spacing']} matrix {p.get('matrix')}")
