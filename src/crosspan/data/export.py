"""Export a protocol split as an nnU-Net v2 raw dataset, so nnU-Net trains on exactly the same split.

``DatasetNNN_Name/imagesTr`` holds the split's train and val cases, ``imagesTs`` its test cases; files are
symlinked (or copied with ``link=False``; images in another format are converted to ``.nii.gz``).
``dataset.json`` follows nnU-Net v2; ``splits_final.json`` holds the split's train/val lists; a
``crosspan_meta.csv`` sidecar keeps patient, center and sequence so crosspan can read the export back.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pandas as pd

from crosspan.core.atomic import atomic_dir, write_json
from crosspan.core.errors import CrosspanError
from crosspan.data.io import read_image, write_image
from crosspan.data.splits import Splits

ENDING = ".nii.gz"


def _place(src: Path, dest: Path, link: bool) -> None:
    if str(src).lower().endswith(ENDING):
        if link:
            os.symlink(Path(src).resolve(), dest)
        else:
            shutil.copy2(src, dest)
    else:
        arr, props = read_image(src)
        write_image(arr, props, dest)


def export_nnunet(catalog: pd.DataFrame, splits_doc: Splits, out_root: Path, dataset_id: int,
                  name: str = "CrossPan", split_name: str | None = None, link: bool = True) -> Path:
    """Write ``out_root/DatasetNNN_<name>`` for one split of ``splits_doc`` (by name or index; default the
    first); returns the dataset folder."""
    f = splits_doc.fold(split_name if split_name is not None else 0)
    split = {"train": f.train, "val": f.val, "test": f.test}
    if not 1 <= dataset_id <= 999:
        raise CrosspanError(None, f"dataset id {dataset_id} outside 1-999", "pick a free nnU-Net dataset id")
    by_case = catalog.set_index("case_id")
    missing = [c for c in split["train"] + split["val"] + split["test"] if c not in by_case.index]
    if missing:
        raise CrosspanError(None, f"{len(missing)} case(s) of the split are not in the catalog (e.g. {missing[0]})",
                            "use the catalog the splits were made from")
    unlabeled = [c for c in split["train"] + split["val"] if not str(by_case.loc[c, "label"])]
    if unlabeled:
        raise CrosspanError(by_case.loc[unlabeled[0], "image"], "training case without a label",
                            "label it or leave it out of the split")
    sequences = sorted({str(by_case.loc[c, "sequence"]) for c in split["train"]})
    folder = Path(out_root) / f"Dataset{dataset_id:03d}_{name}"
    with atomic_dir(folder) as tmp:
        for sub in ("imagesTr", "labelsTr", "imagesTs"):
            (tmp / sub).mkdir()
        for case in split["train"] + split["val"]:
            _place(Path(by_case.loc[case, "image"]), tmp / "imagesTr" / f"{case}_0000{ENDING}", link)
            _place(Path(by_case.loc[case, "label"]), tmp / "labelsTr" / f"{case}{ENDING}", link)
        for case in split["test"]:
            _place(Path(by_case.loc[case, "image"]), tmp / "imagesTs" / f"{case}_0000{ENDING}", link)
        write_json(tmp / "dataset.json", {
            "channel_names": {"0": "+".join(sequences) or "MRI"},
            "labels": {"background": 0, "pancreas": 1},
            "numTraining": len(split["train"]) + len(split["val"]),
            "file_ending": ENDING,
            "name": name,
            "description": f"crosspan export of protocol {splits_doc.protocol} split {f.name}",
            "overwrite_image_reader_writer": "SimpleITKIO",
        })
        write_json(tmp / "splits_final.json", [{"train": split["train"], "val": split["val"]}])
        with (tmp / "crosspan_meta.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["case_id", "patient_id", "center", "sequence"])
            for case in split["train"] + split["val"] + split["test"]:
                r = by_case.loc[case]
                w.writerow([case, r["patient_id"], r["center"], r["sequence"]])
    return folder
