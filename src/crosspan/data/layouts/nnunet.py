"""nnU-Net v2 raw: ``DatasetNNN_Name/{imagesTr,labelsTr,imagesTs}`` with ``dataset.json``.

Center comes from the case prefix; the sequence from ``channel_names["0"]``. An optional sidecar
``crosspan_meta.csv`` in the dataset folder (columns ``case_id, patient_id, center, sequence``) overrides them.
Cases in ``imagesTr`` get split ``train``, those in ``imagesTs`` split ``test``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from crosspan.data.layouts.base import Layout, ScanEntry, canonical_sequence, center_from_case, register

SIDECAR = "crosspan_meta.csv"


@register
class NnUNetRaw(Layout):
    name = "nnunet"
    description = "nnU-Net v2 raw dataset: dataset.json, imagesTr, labelsTr, imagesTs"

    def detect(self, root: Path) -> bool:
        return root.is_dir() and (root / "dataset.json").is_file() and (root / "imagesTr").is_dir()

    def scan(self, root: Path) -> list[ScanEntry]:
        ds = json.loads((root / "dataset.json").read_text())
        ending = ds.get("file_ending", ".nii.gz")
        channel = str(ds.get("channel_names", {}).get("0", "unknown"))
        sidecar = {}
        if (root / SIDECAR).is_file():
            with (root / SIDECAR).open(newline="") as fh:
                sidecar = {r["case_id"]: r for r in csv.DictReader(fh) if r.get("case_id")}
        entries = []
        for folder, split in (("imagesTr", "train"), ("imagesTs", "test")):
            d = root / folder
            if not d.is_dir():
                continue
            for img in sorted(d.glob(f"*_0000{ending}")):
                case = img.name[: -len(f"_0000{ending}")]
                label = root / "labelsTr" / f"{case}{ending}"
                meta = sidecar.get(case, {})
                entries.append(ScanEntry(
                    case_id=case,
                    patient_id=meta.get("patient_id") or case,
                    center=meta.get("center") or center_from_case(case),
                    sequence=canonical_sequence(meta.get("sequence") or channel),
                    image=img,
                    label=label if label.exists() else None,
                    split=split,
                ))
        return entries
