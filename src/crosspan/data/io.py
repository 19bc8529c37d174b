"""Read and write volumes with their geometry.

Arrays are numpy in (z, y, x) order. Geometry lives in :class:`ImageProperties` with spacing, origin and
direction in the same array-axis order as numpy (SimpleITK itself uses (x, y, z)), so any output can be
written back in the source geometry exactly. NIfTI, NRRD and MHA go through SimpleITK; a folder is read
as a DICOM series.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from crosspan.data.errors import CrosspanError
from crosspan.utils.atomic import atomic_path

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")


@dataclass
class ImageProperties:
    """Geometry of a volume in numpy (z, y, x) order.

    Everything is SimpleITK's geometry with every axis reversed: ``spacing`` per array axis, ``origin`` and
    physical coordinates as (z, y, x) of ITK's LPS space, ``direction`` the 3x3 cosine matrix with row i the
    physical direction (z, y, x components) of array axis i. Identity means ITK's identity.
    """

    shape: tuple[int, ...]
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    direction: tuple[float, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("shape", "spacing", "origin", "direction"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ImageProperties:
        return cls(
            shape=tuple(int(v) for v in d["shape"]),
            spacing=tuple(float(v) for v in d["spacing"]),
            origin=tuple(float(v) for v in d["origin"]),
            direction=tuple(float(v) for v in d["direction"]),
            extra=dict(d.get("extra", {})),
        )

    @property
    def orientation(self) -> str:
        """Three-letter orientation code of SimpleITK's (x, y, z) axes, e.g. ``LPS`` or ``RAS``."""
        return orientation_code(self.sitk_direction())

    def sitk_direction(self) -> tuple[float, ...]:
        """The direction matrix in SimpleITK (x, y, z) order, flattened row-major."""
        n = len(self.shape)
        m = np.asarray(self.direction, dtype=float).reshape(n, n).T[::-1, ::-1]
        return tuple(m.ravel())

    def voxel_volume_ml(self) -> float:
        return float(np.prod(self.spacing)) / 1000.0

    def same_geometry(self, other: ImageProperties, tol: float = 1e-4) -> bool:
        return not geometry_differences(self, other, tol)


def geometry_differences(a: ImageProperties, b: ImageProperties, tol: float = 1e-4) -> list[str]:
    """Which of shape, spacing, origin, direction differ between ``a`` and ``b`` (relative tolerance)."""
    diffs = []
    if tuple(a.shape) != tuple(b.shape):
        diffs.append("shape")
        return diffs
    scale = max(1.0, float(np.max(np.abs(a.spacing))))
    if not np.allclose(a.spacing, b.spacing, rtol=tol, atol=tol):
        diffs.append("spacing")
    if not np.allclose(a.origin, b.origin, rtol=0, atol=max(tol * scale * 10, 1e-3)):
        diffs.append("origin")
    if not np.allclose(a.direction, b.direction, rtol=0, atol=1e-3):
        diffs.append("direction")
    return diffs


def orientation_code(sitk_direction: tuple[float, ...]) -> str:
    """Orientation code (``LPS`` convention of DICOM/ITK: the letters name where each axis points)."""
    try:
        return sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(list(sitk_direction))
    except Exception:  # noqa: BLE001 - degenerate matrices
        return "???"


def properties_from_sitk(img: sitk.Image) -> ImageProperties:
    dim = img.GetDimension()
    d = np.asarray(img.GetDirection(), dtype=float).reshape(dim, dim)
    # SimpleITK column j = physical direction of itk axis j; array axis i = itk axis (dim-1-i), and the
    # physical components are reversed too
    direction = d[::-1, ::-1].T.ravel()
    return ImageProperties(
        shape=tuple(reversed(img.GetSize())),
        spacing=tuple(reversed(img.GetSpacing())),
        origin=tuple(reversed(img.GetOrigin())),
        direction=tuple(float(v) for v in direction),
    )


def apply_properties(img: sitk.Image, props: ImageProperties) -> sitk.Image:
    img.SetSpacing(tuple(reversed(props.spacing)))
    img.SetOrigin(tuple(reversed(props.origin)))
    img.SetDirection(props.sitk_direction())
    return img


def is_image_file(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in IMAGE_SUFFIXES)


def strip_image_suffix(name: str) -> str:
    low = name.lower()
    for s in IMAGE_SUFFIXES:
        if low.endswith(s):
            return name[: -len(s)]
    return name


def read_sitk(path: str | Path) -> sitk.Image:
    """Read a file (NIfTI/NRRD/MHA) or a DICOM series folder as a SimpleITK image, with clear errors."""
    path = Path(path)
    if not path.exists():
        raise CrosspanError(path, "file does not exist", "check the path or the dataset layout")
    try:
        if path.is_dir():
            from crosspan.data.dicom import read_dicom_series

            return read_dicom_series(path)[0]
        return sitk.ReadImage(str(path))
    except CrosspanError:
        raise
    except Exception as exc:  # noqa: BLE001 - SimpleITK raises RuntimeError with long text
        msg = str(exc).strip().splitlines()
        short = next((m for m in msg if "rror" in m or "nable" in m), msg[0] if msg else type(exc).__name__)
        raise CrosspanError(
            path, f"unreadable or truncated image ({short.strip()[:160]})", "re-export or re-download the file"
        ) from exc


def read_image(path: str | Path, dtype: Any = None) -> tuple[np.ndarray, ImageProperties]:
    """Read a volume as a (z, y, x) array and its :class:`ImageProperties`."""
    img = read_sitk(path)
    arr = sitk.GetArrayFromImage(img)
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    return arr, properties_from_sitk(img)


def read_header(path: str | Path) -> ImageProperties:
    """Geometry only, without reading voxels (fast for NIfTI/NRRD/MHA)."""
    path = Path(path)
    if path.is_dir():
        return read_image(path)[1]
    if not path.exists():
        raise CrosspanError(path, "file does not exist", "check the path or the dataset layout")
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except Exception as exc:  # noqa: BLE001
        raise CrosspanError(path, "unreadable image header", "re-export or re-download the file") from exc
    dim = reader.GetDimension()
    d = np.asarray(reader.GetDirection(), dtype=float).reshape(dim, dim)
    return ImageProperties(
        shape=tuple(reversed(reader.GetSize())),
        spacing=tuple(reversed(reader.GetSpacing())),
        origin=tuple(reversed(reader.GetOrigin())),
        direction=tuple(float(v) for v in d[::-1, ::-1].T.ravel()),
    )


def to_sitk(array: np.ndarray, props: ImageProperties) -> sitk.Image:
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    if array.dtype == np.float16:
        array = array.astype(np.float32)
    img = sitk.GetImageFromArray(np.ascontiguousarray(array))
    return apply_properties(img, props)


def write_image(array: np.ndarray, props: ImageProperties, path: str | Path, compress: bool = True) -> Path:
    """Write ``array`` (z, y, x) with geometry ``props`` to ``path`` atomically; the format follows the suffix."""
    path = Path(path)
    if tuple(array.shape) != tuple(props.shape):
        raise CrosspanError(path, f"array shape {array.shape} differs from geometry shape {props.shape}",
                            "resample the array to the reference geometry before writing")
    img = to_sitk(array, props)
    with atomic_path(path) as tmp:
        sitk.WriteImage(img, str(tmp), compress)
    return path
