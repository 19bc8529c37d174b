"""Image I/O keeps geometry exactly; real files from dependencies read; DICOM ingestion keeps no identifier."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from crosspan.core.errors import CrosspanError
from crosspan.data.dicom_ingest import ingest_dicom
from crosspan.data.io import ImageProperties, read_header, read_image, write_image

OBLIQUE = (0.0, 0.0, 1.0, 0.0, -1.0, 0.0, 1.0, 0.0, 0.0)  # a proper rotation, not identity


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha"])
def test_round_trip_keeps_geometry_and_axes(tmp_path: Path, suffix: str) -> None:
    arr = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    p = ImageProperties(shape=(4, 5, 6), spacing=(3.0, 1.25, 0.75), origin=(10.0, -20.0, 5.5), direction=OBLIQUE)
    path = write_image(arr, p, tmp_path / f"x{suffix}")
    back, q = read_image(path)
    np.testing.assert_array_equal(back, arr)
    assert q.same_geometry(p) and q.shape == (4, 5, 6)
    np.testing.assert_allclose(q.spacing, p.spacing)
    np.testing.assert_allclose(q.direction, p.direction, atol=1e-6)
    assert read_header(path).same_geometry(p)


def test_properties_follow_simpleitk_with_axes_reversed(tmp_path: Path) -> None:
    img = sitk.Image([6, 5, 4], sitk.sitkUInt8)  # itk size (x, y, z)
    img.SetSpacing((0.5, 1.0, 2.0))
    img.SetOrigin((1.0, 2.0, 3.0))
    sitk.WriteImage(img, str(tmp_path / "a.nii.gz"))
    arr, p = read_image(tmp_path / "a.nii.gz")
    assert arr.shape == (4, 5, 6) and p.spacing == (2.0, 1.0, 0.5) and p.origin == (3.0, 2.0, 1.0)
    assert p.orientation == "LPS"


def test_reads_nibabel_shipped_nifti() -> None:
    import nibabel as nib
    from nibabel.testing import data_path

    path = Path(data_path) / "anatomical.nii"
    arr, p = read_image(path)
    ref = nib.load(str(path))
    assert arr.shape == tuple(reversed(ref.shape))
    np.testing.assert_allclose(p.spacing, tuple(reversed(ref.header.get_zooms())), rtol=1e-5)
    np.testing.assert_allclose(arr.transpose(2, 1, 0), np.asanyarray(ref.dataobj), rtol=1e-5)


def test_truncated_file_is_a_clear_error(tmp_path: Path) -> None:
    p = ImageProperties(shape=(4, 5, 6), spacing=(1, 1, 1), origin=(0, 0, 0), direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))
    path = write_image(np.ones((4, 5, 6), np.float32), p, tmp_path / "t.nii.gz")
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:100]))
    with pytest.raises(CrosspanError, match="unreadable"):
        read_image(path)


def _dicom_series(folder: Path, n: int = 5) -> dict[str, str]:
    """A series made from pydicom's MR_small.dcm (real DICOM test data) by restacking slices."""
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    folder.mkdir(parents=True)
    series_uid = generate_uid()
    for i in range(n):
        ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
        ds.PatientName = "Doe^Jane"
        ds.PatientID = "MRN-998877"
        ds.PatientBirthDate = "19600101"
        ds.AccessionNumber = "ACC-4242"
        ds.InstitutionName = "Saint Example Hospital"
        ds.InstitutionAddress = "1 Secret Road"
        ds.SeriesDescription = "T2 HASTE axial"
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = generate_uid()
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [0.0, 0.0, 4.0 * i]
        ds.SliceLocation = 4.0 * i
        ds.save_as(folder / f"slice{i:03d}.dcm")
    return {"name": "Doe^Jane", "id": "MRN-998877", "birth": "19600101", "acc": "ACC-4242",
            "inst": "Saint Example Hospital", "addr": "1 Secret Road", "uid": series_uid}


def _all_output_bytes(root: Path) -> bytes:
    out = b""
    for f in root.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            out += gzip.decompress(data) if f.name.endswith(".gz") else data
    return out


def test_dicom_ingestion_writes_nifti_without_identifiers(tmp_path: Path) -> None:
    phi = _dicom_series(tmp_path / "dicom" / "series1")
    out = tmp_path / "out"
    manifest = ingest_dicom(tmp_path / "dicom", out, salt="s3cret", center="H1")
    text = manifest.read_text()
    assert "_T2" in text and "H1" in text
    image = next((out / "images").iterdir())
    arr, p = read_image(image)
    assert arr.shape == (5, 64, 64) and p.spacing[0] == pytest.approx(4.0)
    blob = _all_output_bytes(out)
    for value in phi.values():
        assert value.encode() not in blob, value
    assert b"MRN" not in blob and b"Doe" not in blob


def test_dicom_ingestion_needs_mapping_or_salt(tmp_path: Path) -> None:
    _dicom_series(tmp_path / "dicom" / "s")
    with pytest.raises(CrosspanError, match="--salt"):
        ingest_dicom(tmp_path / "dicom", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_dicom_mapping_names_the_case(tmp_path: Path) -> None:
    _dicom_series(tmp_path / "dicom" / "s")
    mapping = tmp_path / "map.csv"
    mapping.write_text("patient_id_original,case_id\nMRN-998877,H1_0001\n")
    manifest = ingest_dicom(tmp_path / "dicom", tmp_path / "out", mapping=mapping, center="H1")
    assert "H1_0001_T2" in manifest.read_text()
