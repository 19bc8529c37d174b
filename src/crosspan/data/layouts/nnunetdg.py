"""The nnUNetDG folders of the CrossPan/PancreasDG authors' code.

``in_domain/<CENTER>/{imagesTr,labelsTr}`` (venous-phase T1, training centers) and
``out_of_domain/<CENTER>/...`` (T1, other centers) or ``out_of_domain/OutPhase<CENTER>/...`` (OOP).
A case name appearing under both ``<CENTER>`` and ``OutPhase<CENTER>`` is taken as one patient.
"""

from __future__ import annotations

from pathlib import Path

from crosspan.data.io import is_image_file, strip_image_suffix
from crosspan.data.layouts.base import Layout, ScanEntry, register

PREFIXES = {"OutPhase": "OOP", "InPhase": "IP", "T2": "T2"}


def _parse_folder(name: str) -> tuple[str, str]:
    for prefix, seq in PREFIXES.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix):], seq
    return name, "T1"


@register
class NnUNetDG(Layout):
    name = "nnunetdg"
    description = "nnUNetDG: in_domain/<CENTER>, out_of_domain/<CENTER>|OutPhase<CENTER>"

    def detect(self, root: Path) -> bool:
        return root.is_dir() and ((root / "in_domain").is_dir() or (root / "out_of_domain").is_dir())

    def scan(self, root: Path) -> list[ScanEntry]:
        entries = []
        for group in ("in_domain", "out_of_domain"):
            gdir = root / group
            if not gdir.is_dir():
                continue
            for cdir in sorted(p for p in gdir.iterdir() if (p / "imagesTr").is_dir()):
                center, seq = _parse_folder(cdir.name)
                for img in sorted(p for p in (cdir / "imagesTr").iterdir() if is_image_file(p)):
                    stem = strip_image_suffix(img.name)
                    case = stem[:-5] if stem.endswith("_0000") else stem
                    suffix = img.name[len(stem):]
                    label = cdir / "labelsTr" / f"{case}{suffix}"
                    base = case if case.startswith(f"{center}_") else f"{center}_{case}"
                    entries.append(ScanEntry(
                        case_id=f"{base}_{seq}", patient_id=base, center=center, sequence=seq, image=img,
                        label=label if label.exists() else None, split="",
                        extra={"group": group, "source_name": case},
                    ))
        return entries
