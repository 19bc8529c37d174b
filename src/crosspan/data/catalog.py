"""The catalog: one row per scan with identity, paths, geometry, intensity percentiles and label size.

A catalog is a pandas DataFrame saved as CSV (and Parquet when pyarrow is installed). Every later stage
(protocols, preprocessing, evaluation) reads a catalog, or builds one from a dataset folder on the fly.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from crosspan.core.atomic import atomic_path
from crosspan.core.errors import CrosspanError, Problem
from crosspan.core.parallel import pmap
from crosspan.data.guards import check_case_ids, read_csv_text
from crosspan.data.inspect import Inspection, inspect_scan
from crosspan.data.layouts import ScanEntry, scan_dataset
from crosspan.data.layouts.base import AUX_MAP_COLUMNS, AUX_SCALAR_COLUMNS

ID_COLUMNS = ["case_id", "patient_id", "center", "sequence", "split", "image", "label"]
STAT_COLUMNS = ["shape_z", "shape_y", "shape_x", "spacing_z", "spacing_y", "spacing_x", "orientation",
                "p0_5", "p50", "p99_5", "label_voxels", "label_ml", "label_components"]
COLUMNS = ID_COLUMNS + STAT_COLUMNS
AUX_COLUMNS = list(AUX_MAP_COLUMNS + AUX_SCALAR_COLUMNS)  # optional, present only when some scan has them


@dataclass
class ScanResult:
    entry: ScanEntry
    inspection: Inspection


def _inspect(entry: ScanEntry, require_label: bool, label_map: dict[float, int] | None,
             fix_label_geometry: bool) -> ScanResult:
    return ScanResult(entry, inspect_scan(entry, require_label, label_map, fix_label_geometry))


def inspect_entries(entries: list[ScanEntry], require_label: bool = False, label_map: dict[float, int] | None = None,
                    fix_label_geometry: bool = False, workers: int | None = None,
                    progress: bool = True) -> list[ScanResult]:
    fn = functools.partial(_inspect, require_label=require_label, label_map=label_map,
                           fix_label_geometry=fix_label_geometry)
    return pmap(fn, entries, workers=workers, description="reading scans", progress=progress)


def rows_from_results(results: list[ScanResult]) -> pd.DataFrame:
    rows = []
    for r in results:
        e = r.entry
        row: dict[str, Any] = {"case_id": e.case_id, "patient_id": e.patient_id, "center": e.center,
                               "sequence": e.sequence, "split": e.split, "image": str(e.image),
                               "label": str(e.label) if e.label else ""}
        row.update({k: r.inspection.stats.get(k) for k in STAT_COLUMNS})
        row.update({k: e.extra[k] for k in AUX_COLUMNS if k in e.extra})
        rows.append(row)
    aux = [k for k in AUX_COLUMNS if any(k in r for r in rows)]
    return pd.DataFrame(rows, columns=COLUMNS + aux).fillna({k: "" for k in aux})


def build_catalog(dataset: str | Path, layout: str | None = None, workers: int | None = None,
                  progress: bool = True, label_map: dict[float, int] | None = None) -> tuple[pd.DataFrame,
                                                                                          list[Problem]]:
    """Scan and read a dataset; return the catalog and the per-scan problems found on the way.

    The gate of every command that reads a dataset: a problem that would make results wrong (:data:`BLOCKING`)
    stops here with a :class:`CrosspanError` naming the file; ``crosspan data check`` lists every problem.
    """
    _, entries = scan_dataset(Path(dataset), layout)
    results = inspect_entries(entries, require_label=False, label_map=label_map, workers=workers,
                              progress=progress)
    problems = [p for r in results for p in r.inspection.problems]
    gate(problems, dataset)
    return rows_from_results(results), problems


#: problem codes that stop every command (a wrong result otherwise); the rest are reported by `data check`
BLOCKING = ("unreadable", "ndim", "nonfinite", "spacing", "shape_mismatch", "label_values", "case_id",
            "path_escape", "link_escape")


def gate(problems: list[Problem], dataset: str | Path) -> None:
    """Raise the first blocking problem as one line (the count of the others and where to see them)."""
    blocking = [p for p in problems if p.level == "error" and p.code in BLOCKING]
    if blocking:
        p = blocking[0]
        more = f" ({len(blocking) - 1} more: `crosspan data check {dataset}` lists them)" if len(blocking) > 1 else ""
        raise CrosspanError(p.path, p.problem + more, p.fix, code=p.code)


def save_catalog(df: pd.DataFrame, path: str | Path) -> list[Path]:
    """Write the catalog as CSV (and ``.parquet`` beside it when pyarrow is available), atomically."""
    path = Path(path)
    written = []
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    written.append(path)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return written
    pq = path.with_suffix(".parquet")
    with atomic_path(pq) as tmp:
        df.to_parquet(tmp, index=False)
    written.append(pq)
    return written


def load_catalog(path: str | Path) -> pd.DataFrame:
    """Read a catalog CSV written by :func:`save_catalog` (checks the columns)."""
    path = Path(path)
    if not path.is_file():
        raise CrosspanError(path, "catalog file does not exist", "build one with `crosspan data catalog DATASET`")
    text_cols = ("case_id", "patient_id", "center", "sequence", "split", "image", "label", "tissue", "pseudo_label")
    try:
        df = pd.read_csv(io.StringIO(read_csv_text(path)), dtype=dict.fromkeys(text_cols, str), keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as err:
        raise CrosspanError(path, f"empty or not a CSV ({str(err).splitlines()[0][:120]})",
                            "build one with `crosspan data catalog DATASET -o catalog.csv`") from None
    missing = [c for c in ID_COLUMNS if c not in df.columns]
    if missing:
        raise CrosspanError(path, f"not a crosspan catalog (missing {', '.join(missing)})",
                            "build one with `crosspan data catalog DATASET -o catalog.csv`")
    check_case_ids([str(c) for c in df["case_id"]], path)
    return df


def is_catalog_file(path: Path) -> bool:
    """A CSV with a ``label``/``shape_z`` column is a catalog; a CSV without stats is a manifest."""
    if not (path.is_file() and path.suffix.lower() == ".csv"):
        return False
    with path.open("rb") as fh:
        head = fh.readline().decode("utf-8", errors="replace")
    return "case_id" in head and "shape_z" in head


def catalog_from(source: str | Path, layout: str | None = None, progress: bool = True) -> pd.DataFrame:
    """A catalog from a catalog CSV, or built from a dataset folder / manifest."""
    source = Path(source)
    if is_catalog_file(source):
        return load_catalog(source)
    df, _ = build_catalog(source, layout=layout, progress=progress)
    return df
