"""``crosspan benchmark``: run a benchmark spec (resumable), show its status, collect its results."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from crosspan.cli.common import console, fail, handle_errors

bench_app = typer.Typer(help="Run a benchmark spec: methods x protocols x seeds x label ratios, resumable, "
                             "locally, on Ray or on Slurm.", no_args_is_help=True)

SPEC_HELP = "Benchmark spec YAML (see docs/benchmark.md and benchmarks/specs/)."
SUBSET_HELP = "Run / read the spec's named subset (`subsets:`, e.g. smoke): fewer methods, seeds, steps; own output."
RUN_DIR_HELP = "Run / read in this folder instead of the spec's `output:` (a subset still gets `<folder>-<subset>`)."


def register(app: typer.Typer) -> None:
    """Add ``crosspan benchmark`` to the root app."""
    app.add_typer(bench_app, name="benchmark")


def _plan(spec_path: Path, executor: str | None = None, jobs: int | None = None,  # noqa: ANN202
          subset: str | None = None, run_dir: Path | None = None):
    from crosspan.bench.jobs import build_plan
    from crosspan.bench.spec import EXECUTORS, load_spec
    from crosspan.bench.subset_apply import apply_subset

    spec = load_spec(spec_path)
    if run_dir is not None:
        spec = dataclasses.replace(spec, output=run_dir.expanduser().resolve())
    if subset:
        spec = apply_subset(spec, subset)
    changes: dict[str, Any] = {}  # Executor fields overridden on the command line
    if executor:
        if executor not in EXECUTORS:
            raise fail(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")
        changes["kind"] = executor
    if jobs:
        changes["jobs"] = jobs
    if changes:
        spec = dataclasses.replace(spec, executor=dataclasses.replace(spec.executor, **changes))
    return build_plan(spec)


def _warn_methods(spec) -> None:  # noqa: ANN001 - Spec
    from crosspan.bench.spec import method_warnings

    for warning in method_warnings(spec):
        console.print(f"[yellow]warning:[/] {warning}")


def _warn_stale(plan) -> None:  # noqa: ANN001 - JobPlan
    from crosspan.bench.staleness import stale_jobs

    for warning in stale_jobs(plan):
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)


@bench_app.command("run")
@handle_errors
def run_cmd(
    spec_path: Path = typer.Argument(..., help=SPEC_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="List done / incomplete / pending jobs; run nothing."),
    executor: str = typer.Option(None, "--executor", help="Override the spec's executor: local, ray or slurm."),
    jobs: int = typer.Option(None, "--jobs", "-j", help="Override the number of parallel jobs (local executor)."),
    collect: bool = typer.Option(True, "--collect/--no-collect", help="Collect results and write the report at "
                                                                      "the end."),
    subset: str = typer.Option(None, "--subset", help=SUBSET_HELP),
    run_dir: Path = typer.Option(None, "--run-dir", help=RUN_DIR_HELP),
) -> None:
    """Run SPEC's unfinished stages and jobs, then collect the results (resumable).

    Finished jobs (their `done` marker) are skipped; unfinished ones restart at their first unfinished step, and
    training resumes from its checkpoint."""
    from crosspan.bench.sweep import plan_counts, run_plan, status_table

    plan = _plan(spec_path, executor, jobs, subset, run_dir)
    console.print(status_table(plan))
    if dry_run:
        console.print(f"{plan.spec.name}: {plan_counts(plan)}")
        _warn_methods(plan.spec)  # imports the engine (torch): only where nothing else runs
        _warn_stale(plan)
        return
    from crosspan.cli.outputs import check_output

    check_output(plan.spec.output, "dir", f"the spec's output ({spec_path})")
    _warn_stale(plan)  # finished jobs are kept as they are: say which ones the code has moved away from
    tally = run_plan(plan, console=console)
    console.print(f"benchmark {plan.spec.name}: " + ", ".join(f"{v} {k}" for k, v in sorted(tally.items()) if v))
    if tally.get("failed") or tally.get("busy") or tally.get("interrupted") or tally.get("blocked"):
        console.print("[yellow]some jobs did not finish; fix them and run the same command again[/]")
        raise typer.Exit(1)
    if collect:
        _collect(plan, report=True)


@bench_app.command("status")
@handle_errors
def status_cmd(
    spec_path: Path = typer.Argument(..., help=SPEC_HELP),
    output: Path = typer.Option(None, "-o", "--output", help="Also write the status as CSV."),
    subset: str = typer.Option(None, "--subset", help=SUBSET_HELP),
    run_dir: Path = typer.Option(None, "--run-dir", help=RUN_DIR_HELP),
) -> None:
    """List every stage and job of SPEC: done, running (the step it is at), incomplete (the failed step) or pending."""
    import pandas as pd

    from crosspan.bench.sweep import status_rows, status_table
    from crosspan.core.atomic import atomic_path

    plan = _plan(spec_path, subset=subset, run_dir=run_dir)
    console.print(status_table(plan))
    _warn_methods(plan.spec)
    _warn_stale(plan)
    if output:
        with atomic_path(output) as tmp:
            pd.DataFrame(status_rows(plan)).to_csv(tmp, index=False)
        console.print(f"status -> {output}")


@bench_app.command("collect")
@handle_errors
def collect_cmd(
    spec_path: Path = typer.Argument(..., help=SPEC_HELP),
    output: Path = typer.Option(None, "-o", "--output", help="Results CSV (default: <spec output>/results.csv)."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html with `crosspan report`."),
    markdown: bool = typer.Option(False, "--markdown", help="Also write the spec's tables as pasted into "
                                                            "BENCHMARKS.md (command, commit, date) to "
                                                            "<spec output>/tables.md and print them."),
    subset: str = typer.Option(None, "--subset", help=SUBSET_HELP),
    run_dir: Path = typer.Option(None, "--run-dir", help=RUN_DIR_HELP),
) -> None:
    """Gather every finished job's per-case results into one table (no duplicate rows), print the spec's tables
    (`tables:`, methods in the spec's order) and write the report."""
    arg = f"{spec_path} --subset {subset}" if subset else str(spec_path)
    if run_dir is not None:
        arg += f" --run-dir {run_dir}"
    _collect(_plan(spec_path, subset=subset, run_dir=run_dir), report=report, output=output,
             markdown_arg=arg if markdown else None)


def _collect(plan, report: bool, output: Path | None = None,  # noqa: ANN001 - JobPlan
             markdown_arg: str | None = None) -> None:
    from crosspan.bench import collect as c
    from crosspan.bench.datasets import IN_DISTRIBUTION

    table, missing, path = c.collect_results(plan, output)
    skipped = c.skipped_rows(table)
    console.print(f"results: {len(table) - len(skipped)} rows from "
                  f"{len(plan.method_jobs) - len(missing) - len(skipped)} job(s) -> {path}")
    for row in skipped.itertuples(index=False):
        console.print(f"[magenta]skipped:[/] {row.method} ({row.job}): {row.reason}")
    if missing:
        console.print(f"[yellow]{len(missing)} job(s) not finished yet[/] (e.g. {missing[0]}); "
                      "run `crosspan benchmark run` to finish them")
    means = c.summary(table, plan.spec.evaluation.metrics)
    if not means.empty:
        t = Table(title="mean per method x protocol", title_justify="left")
        for col in means.columns:
            t.add_column(str(col))
        for row in means.itertuples(index=False):
            t.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row])
        console.print(t)
    ckpt = c.collect_checkpoints(plan, path)
    _tables(plan, table, markdown_arg, ckpt[0] if ckpt else None)
    if ckpt is not None:
        picks = ckpt[1]
        console.print(f"checkpoints: {ckpt[0]}; model selection ({len(picks)} picks, oracle rule marked) -> "
                      f"{ckpt[0].with_name('selection.csv')}")
    if report and len(table) > len(skipped):
        for name, csv in c.test_set_tables(table, path).items():  # one report a test set: never pooled
            main = name == IN_DISTRIBUTION
            ok, message = c.run_report(plan, csv, c.report_path(plan.spec.output, name),
                                       checkpoints=ckpt[0] if ckpt and main else None)
            console.print(f"report ({name}) -> {message}" if ok else f"[yellow]report ({name}) skipped:[/] {message}")


def _tables(plan, table, markdown_arg: str | None,  # noqa: ANN001 - JobPlan, DataFrame
            checkpoints: Path | None = None) -> None:
    """Print each spec table; with ``markdown_arg`` (the spec path as typed) write them to tables.md, followed by the
    training curves of the collected ``checkpoints`` table when there is one."""
    import pandas as pd

    from crosspan.bench.collect import markdown, spec_tables
    from crosspan.bench.curves import curve_markdown
    from crosspan.bench.tables import visible_columns
    from crosspan.core.atomic import write_text
    from crosspan.core.errors import CrosspanError

    try:
        tables = spec_tables(plan, table)
    except CrosspanError as err:  # results tables without the per-case columns of `crosspan evaluate`
        console.print(f"[yellow]tables skipped:[/] {err.problem}")
        return
    for spec, df in tables:
        if df.empty:
            continue
        t = Table(title=spec.title or spec.name, title_justify="left")
        cols = visible_columns(df)
        for col in cols:
            t.add_column(str(col), overflow="fold")
        for row in df[cols].itertuples(index=False):
            t.add_row(*map(str, row))
        console.print(t)
    if markdown_arg is not None:
        text = markdown(plan, tables, markdown_arg, table)
        if checkpoints is not None:
            curves = curve_markdown(pd.read_csv(checkpoints, dtype={"case_id": str, "patient_id": str}))
            text = f"{text}\n{curves}" if curves else text
        path = plan.spec.output / "tables.md"
        write_text(path, text)
        console.print(text, markup=False, highlight=False, soft_wrap=True)
        console.print(f"markdown tables -> {path}")
