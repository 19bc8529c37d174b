"""CrossPan release: ``{T1,T2,OOP}/{train,val,test}/images/<case>_0000.nii.gz`` and ``.../labels/<case>.nii.gz``.

The official split is kept. The center is the case-name prefix before the first ``_`` when present, else
``unknown``. Case IDs are ``<case>_<SEQUENCE>`` (the same case name may appear under several sequences). The
patient ID is the case name, so scans sharing a case name across sequences are grouped (the conservative
choice for leakage). An optional ``manifest.csv`` at the root (columns ``case_id, patient_id, center``, as
the synthetic cohort writes) overrides patient and center per case ID.
"""

from __future__ import annotations

import csv
from pathlib import Path

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
        return entries


def _read_sidecar(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    with path.open(newline="") as fh:
        return {row["case_id"]: row for row in csv.DictReader(fh) if row.get("case_id")}
