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

from crosspan.core.atomic import atomic_path
from crosspan.core.errors import CrosspanError, warn

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


def read_sitk(path: str | Path, ndim: int | None = 3, allow_nonfinite: bool = False) -> sitk.Image:
    """Read a file (NIfTI/NRRD/MHA) or a DICOM series folder as a SimpleITK image, with clear errors.

    The one reader every command uses, so its checks hold everywhere: a missing, unreadable or truncated file,
    a volume of another dimension than ``ndim`` (None: any) and NaN/Inf voxels (unless ``allow_nonfinite``)
    are a :class:`CrosspanError`; a NIfTI whose pixdim is zero gets its geometry from the sform (a warning).
    """
    path = Path(path)
    if not path.exists():
        raise CrosspanError(path, "file does not exist", "check the path or the dataset layout", code="missing")
    sform = nifti_guard(path, allow_nonfinite) if _is_nifti(path) else None
    try:
        if path.is_dir():
            from crosspan.data.dicom import read_dicom_series

            img = read_dicom_series(path)[0]
        else:
            img = sitk.ReadImage(str(path))
    except CrosspanError:
        raise
    except Exception as exc:  # noqa: BLE001 - SimpleITK raises RuntimeError with long text
        raise CrosspanError(path, f"unreadable or truncated image ({itk_reason(exc)})",
                            "re-export or re-download the file", code="unreadable") from None
    if sform is not None:
        _apply_sform(img, sform)
    if ndim is not None and img.GetDimension() != ndim:
        raise CrosspanError(path, f"image is {img.GetDimension()}D (size {img.GetSize()}), a {ndim}D volume is "
                            "needed", "export a single 3D volume (split 4D series, stack 2D slices)", code="ndim")
    if not allow_nonfinite and not _is_nifti(path) and img.GetNumberOfComponentsPerPixel() == 1 \
            and "float" in img.GetPixelIDTypeAsString():
        bad = int(np.count_nonzero(~np.isfinite(sitk.GetArrayViewFromImage(img))))
        if bad:
            raise CrosspanError(path, f"{bad} NaN/Inf voxels", NONFINITE_FIX, code="nonfinite")
    _warn_spacing(path, img.GetSpacing())
    return img


NONFINITE_FIX = "re-export the image or replace non-finite voxels (NaN/Inf) with real values"


def itk_reason(exc: BaseException) -> str:
    """The reason in a SimpleITK exception text (after the ``file.cxx:LINE:`` location lines)."""
    lines = [m.strip() for m in str(exc).strip().splitlines() if m.strip()]
    for line in lines:
        if "ITK ERROR" in line or "rror" in line.split(":")[-1]:
            reason = line.split("):", 1)[-1].strip() if "):" in line else line
            return reason[:200]
    tail = [m for m in lines if not m.endswith(":")]
    return (tail[-1] if tail else (lines[-1] if lines else type(exc).__name__))[:200]


def _is_nifti(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and (name.endswith(".nii") or name.endswith(".nii.gz"))


def nifti_guard(path: Path, allow_nonfinite: bool = False, voxels: bool = True) -> np.ndarray | None:
    """Check a NIfTI file with nibabel (ITK zero-fills a truncated gzip stream and turns NaN into 0).

    Raises on a truncated/unreadable file or NaN/Inf voxels; returns the sform (4x4, RAS) when pixdim has a
    zero spacing and the sform gives the real one, else None; zero spacing without an sform is an error.
    """
    import nibabel as nib
    from nibabel.spatialimages import SpatialImage

    try:
        nimg = nib.load(str(path))
        if not isinstance(nimg, SpatialImage):
            raise TypeError(f"not a volume but a {type(nimg).__name__}")
        data = np.asanyarray(nimg.dataobj) if voxels else None
    except Exception as exc:  # noqa: BLE001 - EOFError, zlib.error, ImageFileError, ValueError from short buffers
        raise CrosspanError(path, f"unreadable or truncated image ({type(exc).__name__}: {str(exc)[:120]})",
                            "re-export or re-download the file", code="unreadable") from None
    if data is not None and not allow_nonfinite and np.issubdtype(data.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(data)))
        if bad:
            raise CrosspanError(path, f"{bad} NaN/Inf voxels", NONFINITE_FIX, code="nonfinite")
    header = _raw_header(path, nimg.header)
    pixdim = np.asarray(header["pixdim"][1:4], dtype=float)
    sform = np.asarray(header.get_sform(), dtype=float)
    norms = np.linalg.norm(sform[:3, :3], axis=0)
    usable = int(header["sform_code"]) > 0 and np.all(norms > 0) and np.all(np.isfinite(norms))
    valid = np.all(np.isfinite(pixdim) & (pixdim != 0))
    qform = int(header["qform_code"]) > 0  # with a qform too, ITK's choice between them stands
    if valid and (not usable or qform or np.allclose(np.abs(pixdim), norms, rtol=1e-3, atol=1e-4)):
        return None
    if usable:
        what = "has a zero" if not valid else "disagrees with the sform"
        warn(path, f"pixdim spacing {tuple(round(float(v), 4) for v in pixdim)} {what}; geometry taken from the "
             f"sform (spacing {tuple(round(float(v), 4) for v in norms)} mm)", "re-export the image with a correct "
             "pixdim")
        return sform
    raise CrosspanError(path, f"voxel spacing (pixdim) {tuple(float(v) for v in pixdim)} has a zero and no sform "
                        "gives the real spacing", "re-export the image with its real voxel spacing", code="spacing")


def _raw_header(path: Path, fallback: Any) -> Any:
    """The NIfTI header as stored (nibabel's loader silently rewrites a zero pixdim as 1)."""
    import nibabel as nib

    try:
        with nib.openers.ImageOpener(str(path)) as fh:
            return type(fallback).from_fileobj(fh, check=False)
    except Exception:  # noqa: BLE001 - keep nibabel's view
        return fallback


def _apply_sform(img: sitk.Image, sform: np.ndarray) -> None:
    """Spacing, origin and direction of ``img`` from a NIfTI sform (RAS -> ITK's LPS)."""
    lps = np.diag([-1.0, -1.0, 1.0])
    m, t = lps @ sform[:3, :3], lps @ sform[:3, 3]
    spacing = np.linalg.norm(m, axis=0)
    img.SetSpacing(tuple(float(v) for v in spacing))
    img.SetOrigin(tuple(float(v) for v in t))
    try:
        img.SetDirection(tuple(float(v) for v in (m / spacing).ravel()))
    except RuntimeError:
        pass  # a sheared sform: keep ITK's direction


def _warn_spacing(path: Path, spacing: tuple[float, ...]) -> None:
    big = [round(float(s), 3) for s in spacing if s > MAX_SPACING_MM]
    if big:
        warn(path, f"voxel spacing {tuple(round(float(s), 3) for s in spacing)} mm has an implausible axis "
             f"({big[0]} mm > {MAX_SPACING_MM:g} mm); resampling will invent many slices",
             "check the header's spacing (pixdim / slice thickness) before training on it")


#: a spacing above this (mm) is almost surely a header error in abdominal MRI
MAX_SPACING_MM = 20.0


def read_image(path: str | Path, dtype: Any = None, ndim: int | None = 3,
               allow_nonfinite: bool = False) -> tuple[np.ndarray, ImageProperties]:
    """Read a volume as a (z, y, x) array and its :class:`ImageProperties` (checked as :func:`read_sitk`)."""
    img = read_sitk(path, ndim=ndim, allow_nonfinite=allow_nonfinite)
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
    if _is_nifti(path) and nifti_guard(path, voxels=False) is not None:
        return read_image(path)[1]  # zero pixdim: the sform gives the geometry
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except Exception as exc:  # noqa: BLE001
        raise CrosspanError(path, f"unreadable image header ({itk_reason(exc)})",
                            "re-export or re-download the file") from None
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
