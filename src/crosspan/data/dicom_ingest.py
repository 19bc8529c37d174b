"""DICOM series ingestion with de-identification.

Every series under a folder is read (:func:`crosspan.data.dicom.read_dicom_series`) and only geometry and voxels
are kept: outputs are NIfTI written from the array and its geometry, so no DICOM header field reaches any output.
The case ID comes from the user's mapping (original PatientID -> case ID) or from a salted hash of the PatientID
and SeriesInstanceUID; the salt never leaves the user's machine.
"""

from __future__ import annotations

import csv
from pathlib import Path

import SimpleITK as sitk

from crosspan.core.atomic import atomic_dir
from crosspan.core.errors import CrosspanError
from crosspan.data.dicom import find_series_folders, read_dicom_series, salted_id
from crosspan.data.guards import check_case_id, check_case_ids, inside, read_csv_rows
from crosspan.data.io import properties_from_sitk, write_image


def load_mapping(path: Path | None) -> dict[str, str]:
    """CSV with columns ``patient_id_original, case_id`` (optionally ``center``), read as original -> case."""
    if path is None:
        return {}
    cols, rows = read_csv_rows(path)
    if "patient_id_original" not in cols or "case_id" not in cols:
        raise CrosspanError(path, "mapping lacks columns patient_id_original, case_id",
                            "write a CSV with header patient_id_original,case_id")
    check_case_ids([r["case_id"] for r in rows], path)
    return {r["patient_id_original"]: r["case_id"] for r in rows}


def ingest_dicom(root: Path, out: Path, salt: str | None = None, mapping: Path | None = None,
                 center: str = "unknown", sequence: str | None = None) -> Path:
    """Convert every series under ``root`` to NIfTI in ``out/images`` and write ``out/manifest.csv``.

    Patients are renamed through ``mapping`` (original PatientID -> case ID) or a salted hash (``salt``
    required then). Returns the manifest path. Writes nothing unless every series converts.
    """
    names = load_mapping(mapping)
    if not names and not salt:
        raise CrosspanError(root, "no case-ID mapping and no salt given",
                            "pass --mapping map.csv (patient_id_original,case_id) or --salt SECRET")
    folders = find_series_folders(Path(root))
    if not folders:
        raise CrosspanError(root, "no DICOM series found", "point to a folder with one sub-folder per series")
    series = [read_dicom_series(f) for f in folders]
    rows = []
    used: dict[str, int] = {}
    with atomic_dir(out) as tmp:
        for img, info in series:
            if names:
                if info.patient_key not in names:
                    raise CrosspanError(info.folder, "patient of this series is not in the mapping",
                                        "add a row for it to the mapping CSV")
                patient = names[info.patient_key]
            else:
                patient = salted_id(salt or "", info.patient_key)
            seq = sequence or info.sequence_hint
            base = f"{patient}_{seq}"
            used[base] = used.get(base, 0) + 1
            case = base if used[base] == 1 else f"{base}{used[base]}"
            arr = sitk.GetArrayFromImage(img)
            check_case_id(case, info.folder)
            rel = f"images/{case}_0000.nii.gz"
            write_image(arr, properties_from_sitk(img), inside(tmp, rel))
            rows.append({"case_id": case, "patient_id": patient, "center": center, "sequence": seq,
                         "image": rel, "label": "", "split": ""})
        with (tmp / "manifest.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return out / "manifest.csv"
