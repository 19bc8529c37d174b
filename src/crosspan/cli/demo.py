"""``crosspan demo``: the README's first command (synthetic cohort -> train ERM + DG -> evaluate -> report)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from crosspan.cli.common import console, handle_errors, split_list


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)


@handle_errors
def demo_cmd(
    output: Path = typer.Option(Path("demo_output"), "-o", "--output", help="Folder for everything the demo makes."),
    patients: int = typer.Option(48, "--patients", help="Synthetic patients (spread over the centers)."),
    steps: int = typer.Option(1500, "--steps", help="Training steps per method."),
    methods: str = typer.Option("erm,contrast-inversion", "--methods", help="Methods to train (registry names)."),
    jobs: int = typer.Option(2, "--jobs", help="Jobs in parallel (one CPU thread each)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the cohort, the split and the training."),
    stress_patients: int = typer.Option(12, "--stress-patients", min=0,
                                        help="Patients of the stress suite scored beside the cohort (0: none)."),
) -> None:
    """Generate a small synthetic cohort, train ERM and a DG method on T1 from two centers, evaluate in-domain,
    cross-center and cross-sequence on the cohort's test split and on the stress suite (never trained on), and
    write the HTML report. Rerun to resume after an interruption."""
    import yaml

    from crosspan.bench.collect import collect_results, report_path, test_set_tables
    from crosspan.bench.jobs import build_plan
    from crosspan.bench.spec import load_spec
    from crosspan.bench.sweep import run_plan
    from crosspan.core.atomic import write_json, write_text
    from crosspan.demo.report import demo_report, transfer_summary
    from crosspan.demo.spec import DemoSettings, demo_spec

    start = time.perf_counter()
    settings = DemoSettings(patients=patients, steps=steps, methods=tuple(split_list(methods)), jobs=jobs, seed=seed,
                            stress_patients=stress_patients)
    output.mkdir(parents=True, exist_ok=True)
    spec_path = output / "demo_spec.yaml"
    write_text(spec_path, yaml.safe_dump(demo_spec(settings), sort_keys=False))
    plan = build_plan(load_spec(spec_path))
    trained = sum(any(s.name == "train" for s in j.steps) for j in plan.method_jobs)
    console.print(f"[bold]crosspan demo[/] -> {output.resolve()} ({trained} training jobs, "
                  f"{len(plan.method_jobs) - trained} stress-suite jobs; rerun the same command to resume)")
    tally = run_plan(plan, console=console)
    if tally.get("failed") or tally.get("interrupted") or tally.get("busy"):
        console.print("[red]some demo jobs did not finish[/]; see the messages above, then rerun `crosspan demo`")
        raise typer.Exit(1)
    table, _, results_csv = collect_results(plan)
    reports = [demo_report(plan, csv, report_path(output, name), name)  # one report a test set: never pooled
               for name, csv in test_set_tables(table, results_csv).items()]
    elapsed = time.perf_counter() - start
    summary = transfer_summary(table)
    console.print(summary.to_string(index=False))
    write_json(output / "demo_timing.json", {"seconds": round(elapsed, 1), "settings": settings.__dict__,
                                             "summary": json.loads(summary.to_json(orient="records"))})
    listed = ", ".join(str(r.resolve()) for r in reports)
    console.print(f"[green]done in {elapsed / 60:.1f} min[/]. Reports: {listed}")
