"""PanSegData (Zhang et al., MedIA 2025): ``t1|t2/imagesTr/<SITE>_<NNNN>_0000.nii.gz`` and ``labelsTr``.

T1 and T2 IDs are numbered independently. ``Meta informations/T1-name_mapping.json`` and
``T2-name_mapping.json`` map original names to IDs (entries reading "Not included" are skipped); the same
original name (with sequence tokens removed) within one site pairs a patient's T1 and T2 scans. Without the
mapping, every scan is its own patient.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from crosspan.data.io import is_image_file, strip_image_suffix
from crosspan.data.layouts.base import Layout, ScanEntry, center_from_case, register

ID_PATTERN = re.compile(r"^[A-Za-z]+_\d+$")
SEQ_TOKENS = re.compile(r"(?i)(^|[_\-\s.])(t1w?|t2w?|t1_?vibe|haste|venous)(?=$|[_\-\s.])")


def _seq_dirs(root: Path) -> dict[str, Path]:
    out = {}
    if root.is_dir():
        for d in root.iterdir():
            if d.is_dir() and d.name.lower() in ("t1", "t2") and (d / "imagesTr").is_dir():
                out[d.name.upper()] = d
    return out


def _normalise_original(name: str) -> str:
    base = Path(str(name)).name
    base = strip_image_suffix(base)
    return SEQ_TOKENS.sub(r"\1", base).strip("_-. ").lower()


def load_name_mapping(path: Path) -> dict[str, str]:
    """ID -> normalised original name, accepting either direction of the JSON mapping."""
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text())
    if isinstance(raw, list):
        raw = {str(i.get("original", "")): str(i.get("id", "")) for i in raw if isinstance(i, dict)}
    out: dict[str, str] = {}
    for k, v in raw.items():
        k, v = str(k), str(v)
        if "not included" in v.lower() or "not included" in k.lower():
            continue
        if ID_PATTERN.match(v) and not ID_PATTERN.match(k):
            out[v] = _normalise_original(k)
        elif ID_PATTERN.match(k):
            out[k] = _normalise_original(v)
    return out


@register
class PanSegData(Layout):
    name = "pansegdata"
    description = "PanSegData: t1|t2/{imagesTr,labelsTr} with Meta informations/*-name_mapping.json"

    def detect(self, root: Path) -> bool:
        return bool(_seq_dirs(root))

    def scan(self, root: Path) -> list[ScanEntry]:
        entries = []
        meta = root / "Meta informations"
        for seq, d in sorted(_seq_dirs(root).items()):
            mapping = load_name_mapping(meta / f"{seq}-name_mapping.json")
            for img in sorted(p for p in (d / "imagesTr").iterdir() if is_image_file(p)):
                stem = strip_image_suffix(img.name)
                ident = stem[:-5] if stem.endswith("_0000") else stem
                suffix = img.name[len(stem):]
                label = d / "labelsTr" / f"{ident}{suffix}"
                site = center_from_case(ident)
                original = mapping.get(ident)
                patient = f"{site}_{original}" if original else f"{ident}_{seq}"
                entries.append(ScanEntry(
                    case_id=f"{ident}_{seq}", patient_id=patient, center=site, sequence=seq, image=img,
                    label=label if label.exists() else None, split="",
                    extra={"source_name": ident},
                ))
        return entries
