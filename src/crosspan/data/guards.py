"""Input guards shared by every command: safe case IDs, paths that stay inside their folder, CSV text decoding.

A case ID becomes a file name in every output folder (``<case>.npy``, ``<case>.nii.gz``), so it is checked once
where data enters (layouts, catalogs, DICOM mappings): a safe character set, no path separator, no ``..``. Every
output path built from data goes through :func:`inside`, which refuses a path that leaves its folder.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

from crosspan.core.errors import CrosspanError, Problem

#: letters, digits, ``.``, ``_``, ``-`` and ``+``; starts with a letter or digit; at most 128 characters
CASE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
CASE_ID_FIX = "use letters, digits, '.', '_', '-' only (no '/', '\\', '..' or spaces) in case IDs"
#: set to 1 to accept symlinks inside a dataset that point outside its root (a knowing choice)
CANONICAL = ("T1", "T2", "OOP", "IP")
ALLOW_LINKS_ENV = "CROSSPAN_ALLOW_OUTSIDE_LINKS"
LINK_FIX = ("copy the file into the dataset, or pass --allow-outside-links (environment "
            f"{ALLOW_LINKS_ENV}=1) if the link is intended")


def case_id_problem(case_id: str) -> str | None:
    """Why ``case_id`` is unsafe as a file name, or None when it is safe."""
    text = str(case_id)
    if not text:
        return "empty case ID"
    if ".." in text or "/" in text or "\\" in text or not CASE_ID_RE.match(text):
        return f"unsafe case ID {text[:80]!r}"
    return None


def check_case_id(case_id: str, where: str | Path | None = None) -> str:
    """``case_id`` when it is safe; else a :class:`CrosspanError` naming ``where`` (file or folder)."""
    problem = case_id_problem(case_id)
    if problem:
        raise CrosspanError(where, problem, CASE_ID_FIX)
    return str(case_id)


def check_case_ids(case_ids: list[str], where: str | Path | None = None) -> None:
    """Refuse the first unsafe ID of ``case_ids`` (the message counts the others)."""
    bad = [c for c in case_ids if case_id_problem(c)]
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise CrosspanError(where, f"{case_id_problem(bad[0])}{more}", CASE_ID_FIX)


def inside(root: str | Path, *parts: str) -> Path:
    """``root/parts...``, refusing a result that leaves ``root`` (``..``, absolute parts, links out)."""
    root_path = Path(root)
    target = root_path.joinpath(*parts)
    real_root = Path(os.path.realpath(root_path))
    real = Path(os.path.realpath(target))
    if not (real == real_root or real_root in real.parents):
        raise CrosspanError(target, f"output path leaves the output folder {root_path}", CASE_ID_FIX)
    return target


def refuse_overwrite(targets: list[Path], inputs: list[str], fix: str) -> None:
    """Refuse when any output in ``targets`` is one of the ``inputs`` (the same file, links resolved): a
    command's output must never replace the data it reads (e.g. ``predict -o`` the images' own folder)."""
    real = {os.path.realpath(p) for p in inputs if p}
    for t in targets:
        if os.path.realpath(t) in real:
            raise CrosspanError(t, "output would overwrite an input file", fix)


def escapes(root: Path, raw: str | Path) -> bool:
    """Whether ``root/raw`` (textually, after ``..``) lies outside ``root``."""
    target = Path(os.path.normpath(Path(root) / raw))
    base = Path(os.path.normpath(root))
    return not (target == base or base in target.parents)


def links_out(root: Path, path: Path) -> bool:
    """Whether ``path`` (inside ``root`` by name) resolves through a symlink to a place outside ``root``."""
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))
    return not (real == real_root or real_root in real.parents)


def read_csv_text(path: str | Path) -> str:
    """The text of a CSV file: UTF-8 with or without a byte-order mark; anything else is a clear error."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CrosspanError(path, f"cannot read the file ({exc.strerror or type(exc).__name__})",
                            "check the path and its permissions") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CrosspanError(path, f"not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}; latin-1 or "
                            "another encoding?)", "re-save the CSV as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)") \
            from None


def read_csv_rows(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header (stripped) and rows (keys and values stripped) of a UTF-8 CSV file."""
    reader = csv.DictReader(io.StringIO(read_csv_text(path), newline=""))
    header = [c.strip() for c in (reader.fieldnames or [])]
    rows = [{k.strip(): (v or "").strip() for k, v in row.items() if isinstance(k, str)} for row in reader]
    return header, rows


def entry_problems(root: Path, entries: list) -> list[Problem]:  # list[ScanEntry]; layouts import this module
    """Unsafe case IDs, manifest paths outside the dataset root and symlinks that lead out of it."""
    base = root if root.is_dir() else root.parent
    problems: list[Problem] = []
    for e in entries:
        why = case_id_problem(e.case_id)
        if why:
            problems.append(Problem(str(e.image), why, CASE_ID_FIX, code="case_id"))
        for key in ("raw_image", "raw_label"):
            raw = e.extra.get(key)
            if raw and escapes(base, raw):
                problems.append(Problem(raw, f"manifest path of case '{e.case_id}' escapes the dataset root {base}",
                                        "keep images and labels inside the manifest's folder (no '..' or absolute "
                                        "paths outside it)", code="path_escape"))
        paths = [e.image, e.label, *(e.extra.get(k) for k in ("tissue", "pseudo_label"))]
        for p in (Path(p) for p in paths if p):
            if p.exists() and not escapes(base, p) and links_out(base, p):
                level = "warning" if os.environ.get(ALLOW_LINKS_ENV) == "1" else "error"
                problems.append(Problem(str(p), f"symlink of case '{e.case_id}' points outside the dataset "
                                        f"root {base}", LINK_FIX, level=level, code="link_escape"))
    extras = sorted({e.sequence for e in entries} - set(CANONICAL))
    if extras:
        problems.append(Problem(str(root), f"sequence(s) {', '.join(map(repr, extras))} not among "
                                f"{', '.join(CANONICAL)}", "nothing to do if intended (kept as free-form domains); "
                                "else fix the sequence column or folder name", level="warning", code="sequence"))
    return problems
