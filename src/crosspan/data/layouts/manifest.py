"""Manifest CSV, the documented generic path.

Columns ``case_id, patient_id, center, sequence, image, label, split`` (``label``, ``split`` and
``patient_id`` optional; a missing patient ID means one scan per patient); optional ``tissue``,
``pseudo_label`` (maps on the scan's grid) and ``pseudo_weight`` columns travel into the catalog. Paths are
relative to the manifest's folder; the check flags paths that escape it.
"""

from __future__ import annotations

from pathlib import Path

from crosspan.core.errors import CrosspanError
from crosspan.data.guards import read_csv_rows
from crosspan.data.layouts.base import UNKNOWN, Layout, ScanEntry, aux_fields, canonical_sequence, register

REQUIRED = ("case_id", "sequence", "image")


@register
class Manifest(Layout):
    name = "manifest"
    description = "manifest CSV: case_id, patient_id, center, sequence, image, label, split"

    def detect(self, root: Path) -> bool:
        return root.is_file() and root.suffix.lower() == ".csv"

    def scan(self, root: Path) -> list[ScanEntry]:
        base = root.parent
        cols, rows = read_csv_rows(root)
        missing = [c for c in REQUIRED if c not in cols]
        if missing:
            raise CrosspanError(root, f"manifest lacks column(s) {', '.join(missing)}",
                                "add columns case_id, patient_id, center, sequence, image, label, split")
        entries = []
        for line, row in enumerate(rows, start=2):
            for key in REQUIRED:
                if not row.get(key):
                    raise CrosspanError(root, f"line {line} (case '{row.get('case_id', '')}') has an empty "
                                        f"'{key}' field", f"fill in {key} on that line or drop the line")
            label = row.get("label", "")
            entries.append(ScanEntry(
                case_id=row["case_id"],
                patient_id=row.get("patient_id") or row["case_id"],
                center=row.get("center") or UNKNOWN,
                sequence=canonical_sequence(row["sequence"]),
                image=base / row["image"],
                label=(base / label) if label else None,
                split=row.get("split", ""),
                extra={"raw_image": row["image"], "raw_label": label, "root": str(base), **aux_fields(row, base)},
            ))
        return entries
