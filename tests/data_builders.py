"""Tiny datasets in every supported layout, written by the tests themselves."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from crosspan.data.io import ImageProperties, write_image

SHAPE = (8, 16, 16)


def props(shape=SHAPE, spacing=(3.0, 1.5, 1.5), origin=(0.0, 0.0, 0.0), direction=None) -> ImageProperties:
    direction = direction or (1, 0, 0, 0, 1, 0, 0, 0, 1)
    return ImageProperties(shape=tuple(shape), spacing=tuple(spacing), origin=tuple(origin),
                           direction=tuple(float(v) for v in direction))


def volume(seed: int, shape=SHAPE) -> tuple[np.ndarray, np.ndarray]:
    """A noisy image with a bright box, and its label."""
    r = np.random.default_rng(seed)
    img = r.normal(100, 10, size=shape).astype(np.float32)
    lbl = np.zeros(shape, np.uint8)
    z, y, x = (s // 4 + int(r.integers(0, 2)) for s in shape)
    lbl[z:z + shape[0] // 2, y:y + shape[1] // 2, x:x + shape[2] // 2] = 1
    img[lbl == 1] += 80
    return img, lbl


def write_pair(img_path: Path, lbl_path: Path | None, seed: int, p: ImageProperties | None = None) -> None:
    p = p or props()
    img, lbl = volume(seed, p.shape)
    write_image(img, p, img_path)
    if lbl_path is not None:
        write_image(lbl, p, lbl_path)


def crosspan_release(root: Path, centers=("A", "B", "C"), sequences=("T1", "T2", "OOP"), per_center=4,
                     manifest: bool = False) -> Path:
    """Same case name across sequences = same patient; split per patient."""
    rows = []
    seed = 0
    for c in centers:
        for i in range(per_center):
            case = f"{c}_{i:04d}"
            split = ("train", "train", "val", "test")[i % 4]
            for s in sequences:
                seed += 1
                img = root / s / split / "images" / f"{case}_0000.nii.gz"
                lbl = root / s / split / "labels" / f"{case}.nii.gz"
                write_pair(img, lbl, seed)
                rows.append({"case_id": f"{case}_{s}", "patient_id": f"P{c}{i}", "center": c, "sequence": s,
                             "image": str(img.relative_to(root)), "label": str(lbl.relative_to(root)),
                             "split": split})
    if manifest:
        _write_csv(root / "manifest.csv", rows)
    return root


def pansegdata(root: Path) -> Path:
    maps = {}
    for seq, ids in (("T1", ["NYU_0001", "NYU_0002", "MCF_0001"]), ("T2", ["NYU_0001", "NYU_0002", "MCF_0001"])):
        d = root / seq.lower()
        mapping = {}
        for k, ident in enumerate(ids):
            write_pair(d / "imagesTr" / f"{ident}_0000.nii.gz", d / "labelsTr" / f"{ident}.nii.gz", hash(ident) % 97)
            # T2 numbering is independent: NYU_0001 in T2 is the patient of NYU_0002 in T1
            patient = {"T1": ["pat7", "pat9", "pat3"], "T2": ["pat9", "pat7", "pat3"]}[seq][k]
            mapping[f"{patient}_{seq.lower()}.nii.gz"] = ident
        mapping["pat99_t1.nii.gz"] = "Not included"
        maps[seq] = mapping
    meta = root / "Meta informations"
    meta.mkdir(parents=True)
    for seq, m in maps.items():
        (meta / f"{seq}-name_mapping.json").write_text(json.dumps(m))
    return root


def nnunet_raw(root: Path, sidecar: bool = True) -> Path:
    d = root / "Dataset501_Panc"
    cases = ["X_0001", "X_0002", "Y_0001"]
    for i, c in enumerate(cases):
        write_pair(d / "imagesTr" / f"{c}_0000.nii.gz", d / "labelsTr" / f"{c}.nii.gz", i)
    write_pair(d / "imagesTs" / "Y_0002_0000.nii.gz", None, 9)
    (d / "dataset.json").write_text(json.dumps({"channel_names": {"0": "T2"}, "labels": {"background": 0,
                                                "pancreas": 1}, "numTraining": 3, "file_ending": ".nii.gz"}))
    if sidecar:
        _write_csv(d / "crosspan_meta.csv", [{"case_id": "X_0001", "patient_id": "px1", "center": "X",
                                              "sequence": "OOP"}])
    return d


def nnunetdg(root: Path) -> Path:
    k = 0
    for group, folder in (("in_domain", "SiteA"), ("in_domain", "SiteB"), ("out_of_domain", "SiteC"),
                          ("out_of_domain", "OutPhaseSiteA")):
        for case in ("case1", "case2"):
            k += 1
            write_pair(root / group / folder / "imagesTr" / f"{case}_0000.nii.gz",
                       root / group / folder / "labelsTr" / f"{case}.nii.gz", k)
    return root


def manifest(root: Path, rows: list[dict] | None = None) -> Path:
    if rows is None:
        rows = []
        for i in range(6):
            c = "H1" if i < 3 else "H2"
            seq = "T1" if i % 2 == 0 else "T2"
            img, lbl = f"img/s{i}.nii.gz", f"lbl/s{i}.nii.gz"
            write_pair(root / img, root / lbl, i)
            rows.append({"case_id": f"s{i}", "patient_id": f"p{i // 2}", "center": c, "sequence": seq,
                         "image": img, "label": lbl, "split": ""})
    path = root / "manifest.csv"
    _write_csv(path, rows)
    return path


def _write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
