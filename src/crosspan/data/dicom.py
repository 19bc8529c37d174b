"""DICOM series reading and de-identified IDs (ingestion into NIfTI is :mod:`crosspan.data.dicom_ingest`).

A folder holding one series is read with SimpleITK's ``ImageSeriesReader`` (slices sorted by position); header
fields are read for routing only. :func:`salted_id` is the salted hash behind de-identified case IDs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from crosspan.core.errors import CrosspanError

#: header fields read for routing only (never written out)
ROUTING_TAGS = {"patient": "0010|0020", "series_uid": "0020|000e", "study_uid": "0020|000d",
                "description": "0008|103e", "protocol": "0018|1030"}
#: fields that identify a patient; tested to never appear in any output
IDENTIFYING_TAGS = {"0010|0010": "PatientName", "0010|0020": "PatientID", "0010|0030": "PatientBirthDate",
                    "0008|0050": "AccessionNumber", "0008|0080": "InstitutionName",
                    "0008|0081": "InstitutionAddress", "0008|0090": "ReferringPhysicianName",
                    "0020|000d": "StudyInstanceUID", "0020|000e": "SeriesInstanceUID"}

SEQUENCE_RULES = [(re.compile(r"(?i)opp|out.?of.?phase|\bop\b"), "OOP"), (re.compile(r"(?i)in.?phase|\bip\b"), "IP"),
                  (re.compile(r"(?i)t2|haste|ssfse|ss-fse|fse"), "T2"),
                  (re.compile(r"(?i)t1|vibe|lava|thrive|venous|portal"), "T1")]


@dataclass
class SeriesInfo:
    folder: Path
    patient_key: str
    series_uid: str
    sequence_hint: str


def read_dicom_series(folder: str | Path) -> tuple[sitk.Image, SeriesInfo]:
    """Read the (first) series in ``folder``; routing info is returned separately and never written."""
    folder = Path(folder)
    reader = sitk.ImageSeriesReader()
    ids = reader.GetGDCMSeriesIDs(str(folder))
    if not ids:
        raise CrosspanError(folder, "no DICOM series found in the folder", "point to a folder holding one series")
    files = reader.GetGDCMSeriesFileNames(str(folder), ids[0])
    problem = slice_spacing_problem(files)
    if problem:
        raise CrosspanError(folder, f"DICOM series {ids[0][-12:]}: {problem}",
                            "re-export the complete series (one position per slice, even spacing), or split it "
                            "into one folder per stack", code="dicom_slices")
    reader.SetFileNames(files)
    reader.MetaDataDictionaryArrayUpdateOn()
    reader.LoadPrivateTagsOff()
    try:
        img = reader.Execute()
    except RuntimeError as exc:
        raise CrosspanError(folder, "unreadable DICOM series", "re-export the series (complete, one per folder)") \
            from exc

    def tag(key: str) -> str:
        return reader.GetMetaData(0, key).strip() if reader.HasMetaDataKey(0, key) else ""

    desc = f"{tag(ROUTING_TAGS['description'])} {tag(ROUTING_TAGS['protocol'])}"
    clean = sitk.Image(img)  # drop the metadata dictionary
    for key in clean.GetMetaDataKeys():
        clean.EraseMetaData(key)
    return clean, SeriesInfo(folder, tag(ROUTING_TAGS["patient"]), tag(ROUTING_TAGS["series_uid"]) or ids[0],
                             guess_sequence(desc))


def slice_positions(files: list[str] | tuple[str, ...]) -> list[float]:
    """Each slice's position along the slice normal (mm), from ImagePositionPatient and ImageOrientationPatient."""
    out = []
    for f in files:
        r = sitk.ImageFileReader()
        r.SetFileName(str(f))
        r.ReadImageInformation()
        if not (r.HasMetaDataKey("0020|0032") and r.HasMetaDataKey("0020|0037")):
            return []
        pos = np.array([float(v) for v in r.GetMetaData("0020|0032").split("\\")])
        cosines = np.array([float(v) for v in r.GetMetaData("0020|0037").split("\\")])
        out.append(float(pos @ np.cross(cosines[:3], cosines[3:])))
    return out


def slice_spacing_problem(files: list[str] | tuple[str, ...], rel_tol: float = 0.05) -> str | None:
    """Duplicate positions, a missing slice or uneven spacing in a series (None when the stack is regular)."""
    if len(files) < 3:
        return None
    try:
        pos = np.sort(np.asarray(slice_positions(files)))
    except (RuntimeError, ValueError):
        return None  # no usable position tags: ITK's reader decides
    if pos.size < 3:
        return None
    gaps = np.diff(pos)
    step = float(np.median(gaps))
    if np.any(gaps < 1e-3):
        return f"{int(np.sum(gaps < 1e-3))} duplicate slice position(s)"
    if step <= 0:
        return "slices have no spacing"
    ratio = gaps / step
    whole = np.round(ratio)
    if np.any((whole >= 2) & (np.abs(ratio - whole) < rel_tol * whole)):
        return f"{int(np.sum(np.round(ratio) - 1))} missing slice(s) (gap {gaps.max():.2f} mm, spacing {step:.2f} mm)"
    if np.any(np.abs(ratio - 1) > rel_tol):
        return f"uneven slice spacing ({gaps.min():.2f} to {gaps.max():.2f} mm)"
    return None


def guess_sequence(description: str) -> str:
    for pattern, seq in SEQUENCE_RULES:
        if pattern.search(description):
            return seq
    return "unknown"


def salted_id(salt: str, *parts: str, length: int = 10) -> str:
    digest = hashlib.sha256(("\x1f".join([salt, *parts])).encode()).hexdigest()
    return digest[:length]


def find_series_folders(root: Path) -> list[Path]:
    """Every folder under ``root`` that directly holds DICOM files (``.dcm`` or files with a DICM preamble)."""
    out = []
    for d in sorted([root, *[p for p in root.rglob("*") if p.is_dir()]]):
        files = [f for f in d.iterdir() if f.is_file()]
        if any(f.suffix.lower() == ".dcm" or _has_dicm(f) for f in files[:5]):
            out.append(d)
    return out


def _has_dicm(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False

