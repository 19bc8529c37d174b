"""CrossPan release: ``{T1,T2,OOP}/{train,val,test}/images/<case>_0000.nii.gz`` and ``.../labels/<case>.nii.gz``.

The official split is kept. The center is the case-name prefix before the first ``_`` when present, else
``unknown``. Case IDs are ``<case>_<SEQUENCE>`` (the same case name may appear under several sequences). The
patient ID is the case name, so scans sharing a case name across sequences are grouped (the conservative
choice for leakage). An optional ``manifest.csv`` at the root (columns ``case_id, patient_id, center``, as
the synthetic cohort writes) overrides patient and center per case ID.
"""

from __future__ import annotations

from pathlib import Path

from crosspan.core.errors import warn
from crosspan.data.guards import read_csv_rows
from crosspan.data.io import is_image_file, strip_image_suffix
from crosspan.data.layouts.base import Layout, ScanEntry, aux_fields, canonical_sequence, center_from_case, register

SPLITS = ("train", "val", "test")


def _sequence_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    out = []
    for d in sorted(root.iterdir()):
        if d.is_dir() and any((d / s / "images").is_dir() for s in SPLITS):
            out.append(d)
    return out


@register
class CrossPanRelease(Layout):
    name = "crosspan"
    description = "CrossPan release: {T1,T2,OOP}/{train,val,test}/{images,labels}"

    def detect(self, root: Path) -> bool:
        return bool(_sequence_dirs(root))

    def scan(self, root: Path) -> list[ScanEntry]:
        overrides = _read_sidecar(root / "manifest.csv")
        entries: list[ScanEntry] = []
        for seq_dir in _sequence_dirs(root):
            sequence = canonical_sequence(seq_dir.name)
            for split in SPLITS:
                img_dir = seq_dir / split / "images"
                if not img_dir.is_dir():
                    continue
                for img in sorted(p for p in img_dir.iterdir() if is_image_file(p)):
                    stem = strip_image_suffix(img.name)
                    case = stem[:-5] if stem.endswith("_0000") else stem
                    suffix = img.name[len(stem):]
                    label = seq_dir / split / "labels" / f"{case}{suffix}"
                    case_id = f"{case}_{sequence}"
                    meta = overrides.get(case_id, {})
                    entries.append(ScanEntry(
                        case_id=case_id,
                        patient_id=meta.get("patient_id") or case,
                        center=meta.get("center") or center_from_case(case),
                        sequence=sequence,
                        image=img,
                        label=label if label.exists() else None,
                        split=split,
                        extra={"source_name": case, **aux_fields(meta, root)},
                    ))
        _warn_unused(root / "manifest.csv", overrides, entries)
        return entries


def _read_sidecar(path: Path) -> dict[str, dict[str, str]]:
    """Rows of the root ``manifest.csv`` keyed by case ID ``<case>_<SEQ>``; a row whose ``case_id`` is the bare
    case name (``<CENTER>_<NNNN>``) with a ``sequence`` column is keyed ``<case_id>_<SEQ>`` too."""
    if not path.is_file():
        return {}
    _, rows = read_csv_rows(path)
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        case, seq = row.get("case_id", ""), canonical_sequence(row.get("sequence", ""))
        if not case:
            continue
        out[case] = row
        if seq and not case.endswith(f"_{seq}"):
            out[f"{case}_{seq}"] = row
    return out


def _warn_unused(path: Path, overrides: dict[str, dict[str, str]], entries: list[ScanEntry]) -> None:
    if overrides and not {e.case_id for e in entries} & set(overrides):
        warn(path, f"no case_id of this manifest matches a scan (e.g. '{next(iter(overrides))}' vs "
             f"'{entries[0].case_id if entries else ''}'); its patient and center columns are ignored",
             "write case_id as <case>_<SEQ> (e.g. A_0001_T1) or give <case> with a sequence column")
