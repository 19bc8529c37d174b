"""The cases a predict command runs on: ``(case_id, image[, label])`` from an image, a folder of images, a DICOM
series, a catalog or a dataset, optionally cut to the test cases of one fold of a splits JSON."""

from __future__ import annotations

from pathlib import Path

from crosspan.core.errors import CrosspanError
from crosspan.data.io import is_image_file, strip_image_suffix
from crosspan.data.splits import Splits


def collect_inputs(source: str | Path, cases: str = "test", splits: str | Path | None = None,
                   fold: int | str = 0) -> list[tuple[str, str]]:
    """``(case_id, image path)`` pairs from a file, a folder of images, a DICOM series, a catalog or dataset;
    with ``splits``, the ``cases`` list of its fold ``fold`` (:meth:`Splits.fold`: an index or a name), else the
    catalog rows whose ``split`` is ``cases`` (``all``: every row)."""
    source = Path(source)
    if not source.exists():
        raise CrosspanError(source, "input does not exist", "give an image, a folder, a catalog CSV or a dataset")
    if source.is_file() and is_image_file(source):
        return [(_case_name(source), str(source))]
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if is_image_file(p))
        if files and not any(p.is_dir() for p in source.iterdir()):
            return [(_case_name(p), str(p)) for p in files]
        if not files and _looks_dicom(source):
            return [(source.name, str(source))]
    from crosspan.data.catalog import catalog_from

    cat = catalog_from(source, progress=False)
    if splits:
        keep = set(Splits.load(splits).fold(fold).cases(cases))
        cat = cat[cat["case_id"].isin(keep)]
    elif cases != "all":
        cat = cat[cat["split"] == cases]
    return [(str(c), str(i)) for c, i in zip(cat["case_id"], cat["image"], strict=True)]


def collect_labeled(source: str | Path, cases: str, splits: str | Path | None,
                    fold: int | str) -> list[tuple[str, str, str]]:
    """``(case_id, image, label)``; labels come from a catalog or dataset (``""`` for a bare image or folder)."""
    items = collect_inputs(source, cases, splits, fold)
    labels: dict[str, str] = {}
    src = Path(source)
    if not (src.is_file() and src.suffix.lower() != ".csv"):
        try:
            from crosspan.data.catalog import catalog_from

            cat = catalog_from(src, progress=False)
            labels = {str(c): str(lab) for c, lab in zip(cat["case_id"], cat["label"], strict=True)
                      if isinstance(lab, str) and lab}
        except CrosspanError:
            labels = {}
    return [(c, i, labels.get(c, "")) for c, i in items]


def _case_name(path: Path) -> str:
    name = strip_image_suffix(path.name)
    return name[:-5] if name.endswith("_0000") else name


def _looks_dicom(folder: Path) -> bool:
    files = [p for p in folder.iterdir() if p.is_file()]
    return bool(files) and all(p.suffix.lower() in (".dcm", "") for p in files[:20])


__all__ = ["collect_inputs", "collect_labeled"]
