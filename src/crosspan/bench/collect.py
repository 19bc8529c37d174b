"""Gather every finished job's per-case ``results.csv`` into one table (no duplicate rows) and write the report."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd

from crosspan.bench import commands
from crosspan.bench.datasets import IN_DISTRIBUTION
from crosspan.bench.jobs import DONE, Job, JobPlan, job_status, seeded, skip_note
from crosspan.bench.provenance import finished_date, job_commits, run_commits
from crosspan.bench.runner import resolve_executable
from crosspan.bench.tables import TableSpec, build_table, derive_keys, row_seeds, to_markdown
from crosspan.core.atomic import atomic_path
from crosspan.core.errors import CrosspanError

KEY = ["case_id", "method", "run", "seed", "split", "label_ratio", "test_set"]


def collect_results(plan: JobPlan, output: Path | None = None) -> tuple[pd.DataFrame, list[str], Path]:
    """Concatenate finished jobs' tables, tagged with protocol, split, label ratio, job and ``test_set`` (the
    dataset's own test split is ``in-distribution``, extra test datasets go by their name); duplicates (same case,
    method, run, seed, split, label ratio, test set) keep the last row. A skipped job (a zero-shot method that could not
    run) adds one row with ``status=skipped`` and its ``reason``, which ``crosspan report`` lists as skipped.
    Returns (table, unfinished job ids, CSV path)."""
    output = output or plan.spec.output / "results.csv"
    frames, missing = [], []
    for job in plan.method_jobs:
        path = Path(job.info["results"])
        if job_status(job) == "skipped":
            frames.append(pd.DataFrame([{"method": job.info["method"], "run": job.id, "seed": job.info["seed"],
                                         "split": job.info["split"], "label_ratio": job.info["label_ratio"],
                                         "protocol": job.info["protocol"], "job": job.id, "status": "skipped",
                                         "test_set": job.info.get("test_set", IN_DISTRIBUTION),
                                         "reason": skip_note(job) or "cannot run here"}]))
            continue
        if not (job.path / DONE).exists() or not path.exists():
            missing.append(job.id)
            continue
        try:
            df = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise CrosspanError(path, f"unreadable results table ({err})",
                                f"delete {job.path / DONE} and {path}, then run the benchmark again") from None
        if "case_id" not in df.columns:
            raise CrosspanError(path, "no case_id column", "the evaluate step must write `crosspan evaluate` tables")
        df["protocol"] = job.info["protocol"]
        df["split"] = job.info["split"]
        df["label_ratio"] = job.info["label_ratio"]
        df["job"] = job.id
        df["test_set"] = job.info.get("test_set", IN_DISTRIBUTION)
        for col, value in (("method", job.info["method"]), ("seed", job.info["seed"]), ("run", job.id)):
            if col not in df.columns:
                df[col] = value
        frames.append(df)
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*KEY, "protocol", "job"])
    table = table.drop_duplicates(subset=KEY, keep="last").reset_index(drop=True)
    with atomic_path(output) as tmp:
        table.to_csv(tmp, index=False)
    return table, missing, output


def test_set_tables(table: pd.DataFrame, results_csv: Path) -> dict[str, Path]:
    """The collected table split by ``test_set`` (``results.<name>.csv`` beside ``results_csv``) when the spec has
    test datasets, so each gets its own report; else ``{in-distribution: results_csv}``."""
    names = list(dict.fromkeys(table.get("test_set", pd.Series([IN_DISTRIBUTION])).fillna(IN_DISTRIBUTION)))
    if names == [IN_DISTRIBUTION]:
        return {IN_DISTRIBUTION: results_csv}
    out = {}
    for name in sorted(names, key=lambda n: n != IN_DISTRIBUTION):
        path = results_csv.with_name(f"{results_csv.stem}.{name}.csv")
        with atomic_path(path) as tmp:
            table[table["test_set"] == name].to_csv(tmp, index=False)
        out[name] = path
    return out


def report_path(folder: Path, test_set: str) -> Path:
    """``report.html`` for the main dataset's own test split, ``report-<test set>.html`` for another test set."""
    return folder / ("report.html" if test_set == IN_DISTRIBUTION else f"report-{test_set}.html")


def collect_checkpoints(plan: JobPlan, results_csv: Path) -> tuple[Path, pd.DataFrame] | None:
    """Finished jobs' ``run/checkpoints.csv`` (``training.eval_every``) in one table beside ``results_csv``, and
    each model-selection rule's pick in ``selection.csv`` (the oracle rule's pick is ``oracle``); None without any.

    Rows are tagged like the results (``run`` = job id; the job's split goes to ``protocol_split``, since
    ``split`` says val or test here)."""
    from crosspan.evaluation.checkpoints import selections
    from crosspan.evaluation.stats import prepare_results

    frames = []
    for job in plan.method_jobs:
        path = job.path / "run" / "checkpoints.csv"
        if (job.path / DONE).exists() and path.is_file():
            frames.append(pd.read_csv(path, dtype={"case_id": str, "patient_id": str}).assign(
                run=job.id, protocol=job.info["protocol"], protocol_split=job.info["split"],
                label_ratio=job.info["label_ratio"], job=job.id))
    if not frames:
        return None
    table = pd.concat(frames, ignore_index=True)
    out = results_csv.with_name("checkpoints.csv")
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    sel, _ = selections(prepare_results(table, out))  # transfer type and domain filled as `analyze` does
    with atomic_path(out.with_name("selection.csv")) as tmp:
        sel.to_csv(tmp, index=False, float_format="%.6g")
    return out, sel


def run_report(plan: JobPlan, results_csv: Path, output: Path | None = None,
               checkpoints: Path | None = None) -> tuple[bool, str]:
    """Run ``crosspan report`` on the collected table (and checkpoint table); returns (ok, message)."""
    output = output or plan.spec.output / "report.html"
    argv = [*resolve_executable(plan.spec.executable),
            *commands.report(str(results_csv), str(output), f"{plan.spec.name} benchmark",
                             str(checkpoints) if checkpoints else None)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError as err:
        return False, f"could not start the report command {argv[0]}: {err}"
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return False, f"`crosspan report` failed (exit {proc.returncode}): {' | '.join(tail)}"
    return True, str(output)


def skipped_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of skipped jobs (``status == skipped``) of a collected table."""
    if "status" not in table.columns:
        return table.iloc[:0]
    return table[table["status"].astype(str).str.lower().eq("skipped")]


def summary(table: pd.DataFrame, metrics: tuple[str, ...]) -> pd.DataFrame:
    """Mean of each metric per method x protocol x label ratio (x transfer type when present); skipped jobs' rows
    are left out."""
    table = table.drop(skipped_rows(table).index)
    cols = [m for m in metrics if m in table.columns]
    if table.empty or not cols:
        return pd.DataFrame()
    keys = [k for k in ("method", "protocol", "label_ratio", "test_set", "transfer") if k in table.columns]
    out = table.groupby(keys, dropna=False)[cols].mean().reset_index()
    out.insert(len(keys), "n", table.groupby(keys, dropna=False).size().to_numpy())
    return out


def spec_tables(plan: JobPlan, table: pd.DataFrame) -> list[tuple[TableSpec, pd.DataFrame]]:
    """Each of the spec's ``tables`` (default: methods x labeled % by test set and target) built from the collected
    results, methods in the order of the spec's ``methods`` list."""
    specs = plan.spec.tables or (TableSpec(name="results", rows=("method", "labels"), columns=("test_set", "target")),)
    return [(t, build_table(table, t, method_order(plan, t.method_order))) for t in specs]


def method_order(plan: JobPlan, kind: str = "spec") -> tuple[str, ...]:
    """The spec's method names in the spec's order, or (``registry``) in the registry's table order of their
    registry names (:func:`crosspan.methods.base.table_order`; one registry name's entries keep the spec's order)."""
    names = [m.name for m in plan.spec.methods]
    if kind != "registry":
        return tuple(names)
    from crosspan.methods.base import table_order

    rank = {n: i for i, n in enumerate(table_order({m.method for m in plan.spec.methods}))}
    return tuple(m.name for m in sorted(plan.spec.methods, key=lambda m: (rank[m.method], names.index(m.name))))


def table_jobs(plan: JobPlan, results: pd.DataFrame, table: TableSpec) -> list[Job]:
    """The finished jobs whose result rows a table reads (its ``filter`` applied; skipped jobs left out)."""
    df = derive_keys(results.drop(skipped_rows(results).index))
    for key, keep in table.filter.items():
        if key in df.columns:
            df = df[df[key].astype(str).isin(keep)]
    ids = set(df["job"].astype(str)) if "job" in df.columns else set()
    return [j for j in plan.method_jobs if j.id in ids]


def markdown(plan: JobPlan, tables: list[tuple[TableSpec, pd.DataFrame]], spec_arg: str,
             results: pd.DataFrame | None = None) -> str:
    """The tables as pasted into BENCHMARKS.md: a heading, the command, the commit(s) and date measured at. With
    the collected ``results``, each table names the commits and finish date of the jobs it reads (their ``done``
    markers; jobs finished before markers carried a commit: the runs' commits)."""
    seeds = ", ".join(map(str, plan.spec.seeds))
    parts = []
    for spec, df in tables:
        jobs = table_jobs(plan, results, spec) if results is not None else plan.method_jobs
        commits = job_commits(jobs) or run_commits(plan.spec.output)
        date = finished_date(jobs) or "not finished"
        parts.append(f"### {spec.title or spec.name}\n\n"
                     f"`crosspan benchmark run {spec_arg}` at commit {', '.join(commits) or 'unknown'}, finished "
                     f"{date}; seeds {seeds}. Cells: mean {spec.metric} over every seed's cases "
                     f"±SD of the seed means [95 % patient-clustered bootstrap CI]; n = scored cases.\n\n"
                     + to_markdown(df, spec) + seed_note(plan, df, spec))
    return "\n".join(parts)


def seed_note(plan: JobPlan, df: pd.DataFrame, spec: TableSpec) -> str:
    """A footnote naming the rows measured on fewer seeds than the spec's (n_seeds; one seed: no seed SD): methods
    whose prediction does not depend on the seed (zero-shot, :func:`crosspan.bench.jobs.seeded`) run once."""
    total = len(plan.spec.seeds)
    if df.empty or total < 2:
        return ""
    once = {m.name for m in plan.spec.methods if not seeded(m)}
    by_design: list[str] = []
    short: list[str] = []
    for (_, row), n in zip(df.iterrows(), row_seeds(df), strict=True):
        if 0 < n < total:
            label = " ".join(str(row[k]) for k in spec.rows)
            (by_design if n == 1 and row.get("method") in once else short).append(f"{label} (n_seeds = {n})")
    notes = []
    if by_design:
        notes.append(f"{', '.join(by_design)}: zero-shot, its prediction does not depend on the seed, so it runs "
                     f"once (seed {plan.spec.seeds[0]}); no seed SD.")
    if short:
        notes.append(f"{', '.join(short)}: fewer seeds than the spec's {total} (jobs not finished or skipped, or a "
                     "row pooling a zero-shot method's one seed).")
    return "".join(f"\nSeeds: {text}\n" for text in notes)


__all__ = ["KEY", "collect_checkpoints", "collect_results", "markdown", "method_order", "seed_note", "skipped_rows",
           "report_path", "spec_tables", "summary", "test_set_tables", "run_report"]
