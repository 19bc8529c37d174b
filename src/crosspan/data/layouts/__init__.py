"""Dataset layout adapters (one module a layout) and auto-detection."""

from __future__ import annotations

from pathlib import Path

from crosspan.core.errors import CrosspanError, warn
from crosspan.data.guards import entry_problems
from crosspan.data.layouts import crosspan_release, manifest, nnunet, nnunetdg, pansegdata  # noqa: F401
from crosspan.data.layouts.base import Layout, ScanEntry, layouts

__all__ = ["Layout", "ScanEntry", "detect_layout", "get_layout", "layouts", "scan_dataset"]


def get_layout(name: str) -> Layout:
    reg = layouts()
    if name not in reg:
        raise CrosspanError(None, f"unknown layout '{name}'", f"use one of: {', '.join(sorted(reg))}")
    return reg[name]()


def detect_layout(root: Path) -> Layout:
    """The one layout that recognises ``root``; a manifest CSV file is always the manifest layout."""
    root = Path(root)
    if not root.exists():
        raise CrosspanError(root, "dataset path does not exist", "check the path")
    found = [cls() for cls in layouts().values() if cls().detect(root)]
    if not found:
        raise CrosspanError(
            root,
            "no known dataset layout recognised",
            f"name it with --layout ({', '.join(sorted(layouts()))}) or write a manifest CSV "
            "(case_id, patient_id, center, sequence, image, label, split)",
        )
    if len(found) > 1:
        names = ", ".join(sorted(f.name for f in found))
        raise CrosspanError(root, f"ambiguous layout (matches {names})", "name one with --layout")
    return found[0]


def scan_dataset(root: Path, layout: str | None = None, strict: bool = True) -> tuple[str, list[ScanEntry]]:
    """Scan a dataset folder (or manifest file) with the named or detected layout.

    ``strict`` (the default) stops at the first unsafe case ID or manifest path outside the dataset and warns
    about symlinks out of it (:func:`crosspan.data.guards.entry_problems`); ``crosspan data check`` lists them
    all instead (an outside symlink is an error there unless allowed).
    """
    lay = get_layout(layout) if layout else detect_layout(root)
    entries = lay.scan(Path(root))
    if not entries:
        raise CrosspanError(root, f"no scans found for layout '{lay.name}'", "check the folder structure")
    if strict:
        problems = entry_problems(Path(root), entries)
        for w in (p for p in problems if p.level == "warning" and p.code != "link_escape"):
            warn(w.path, w.problem, w.fix)
        links = [p for p in problems if p.code == "link_escape" and p.level == "error"]
        if links:
            warn(root, f"{len(links)} symlink(s) point outside the dataset root (e.g. {links[0].path})",
                 f"nothing to do if intended; `crosspan data check {root}` lists them")
        problems = [p for p in problems if p.level == "error" and p.code != "link_escape"]
        if problems:
            p = problems[0]
            more = f" ({len(problems) - 1} more problem(s): `crosspan data check {root}` lists them)" \
                if len(problems) > 1 else ""
            raise CrosspanError(p.path, p.problem + more, p.fix)
    return lay.name, entries
