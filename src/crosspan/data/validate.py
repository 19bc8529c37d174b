"""``crosspan data check``: read everything, report every problem (file, problem, fix), write nothing on failure.

Per scan (see :mod:`crosspan.data.inspect`): unreadable or truncated files, 2D/4D images, NaN/Inf, missing or
empty labels, label values outside {0, 1}, image/label geometry mismatches (telling apart a header-only
disagreement, fixable with ``--fix-label-geometry``). Across the dataset: duplicate case IDs, manifest paths
that escape the dataset root, mixed orientations (a warning).
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from crosspan.core.errors import Problem
from crosspan.data.catalog import ScanResult, inspect_entries, rows_from_results
from crosspan.data.guards import entry_problems, inside
from crosspan.data.inspect import apply_label_map
from crosspan.data.io import read_image, write_image
from crosspan.data.layouts import ScanEntry, scan_dataset


@dataclass
class CheckReport:
    layout: str
    results: list[ScanResult]
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors


def dataset_problems(root: Path, entries: list[ScanEntry]) -> list[Problem]:
    """Problems that only show across scans, plus unsafe IDs and paths (:func:`entry_problems`)."""
    problems: list[Problem] = []
    counts = Counter(e.case_id for e in entries)
    for case, n in sorted(counts.items()):
        if n > 1:
            paths = [str(e.image) for e in entries if e.case_id == case]
            problems.append(Problem(paths[0], f"duplicate case ID '{case}' ({n} scans: {', '.join(paths[:3])})",
                                    "give every scan a unique case_id", code="duplicate_id"))
    return problems + entry_problems(root, entries)


def orientation_warnings(results: list[ScanResult]) -> list[Problem]:
    codes = Counter(r.inspection.stats.get("orientation") for r in results if r.inspection.stats.get("orientation"))
    if len(codes) <= 1:
        return []
    summary = ", ".join(f"{c} x{n}" for c, n in codes.most_common())
    return [Problem("(dataset)", f"mixed orientations ({summary})",
                    "nothing to do: preprocessing reorients to one canonical orientation", level="warning",
                    code="mixed_orientation")]


def check_dataset(dataset: str | Path, layout: str | None = None, require_labels: bool = True,
                  label_map: dict[float, int] | None = None, fix_label_geometry: bool = False,
                  workers: int | None = None, progress: bool = True, allow_links: bool = False) -> CheckReport:
    name, entries = scan_dataset(Path(dataset), layout, strict=False)
    problems = dataset_problems(Path(dataset), entries)
    if allow_links:
        problems = [replace(p, level="warning") if p.code == "link_escape" else p for p in problems]
    unsafe = {p.path for p in problems if p.code in ("path_escape", "case_id", "link_escape")}
    readable = [e for e in entries if not ({e.extra.get("raw_image"), str(e.image)} & unsafe)]
    results = inspect_entries(readable, require_label=require_labels, label_map=label_map,
                              fix_label_geometry=fix_label_geometry, workers=workers, progress=progress)
    problems += [p for r in results for p in r.inspection.problems]
    problems += orientation_warnings(results)
    return CheckReport(name, results, problems)


def write_fixed(report: CheckReport, out: Path, label_map: dict[float, int], fix_label_geometry: bool) -> Path:
    """Write corrected labels, links to the images, and a manifest of them (call only when the report is OK).

    Images are hard-linked into ``out/images`` (copied across file systems), so the fixed dataset holds no
    symlink out of its root; manifest paths are relative to ``out``.
    """
    from crosspan.core.atomic import atomic_dir

    with atomic_dir(out) as tmp:
        df = rows_from_results(report.results)
        for i, r in enumerate(report.results):
            e = r.entry
            suffix = "".join(Path(e.image).suffixes[-2:]) if str(e.image).endswith(".gz") else Path(e.image).suffix
            link = inside(tmp, "images", f"{e.case_id}{suffix}")
            link.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(Path(e.image).resolve(), link)
            df.loc[i, "image"] = f"images/{link.name}"
            if e.label is None:
                continue
            label, lprops = read_image(e.label)
            if fix_label_geometry and r.inspection.props is not None:
                lprops = r.inspection.props
            label = apply_label_map(label, label_map).astype(np.uint8)
            dest = inside(tmp, "labels", f"{e.case_id}.nii.gz")
            write_image(label, lprops, dest)
            df.loc[i, "label"] = f"labels/{dest.name}"
        manifest = df[["case_id", "patient_id", "center", "sequence", "image", "label", "split"]]
        manifest.to_csv(tmp / "manifest.csv", index=False)
    return out / "manifest.csv"


def _link_or_copy(src: Path, dest: Path) -> None:
    if src.is_dir():  # a DICOM series folder
        shutil.copytree(src, dest)
        return
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)
