"""The annotation protocol end to end on one assignment folder: assign, compare, adjudicate, consensus.

Three simulated annotators (ann3 systematically over-segments) and an expert adjudicator on a 12-case cohort.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.data.catalog import build_catalog
from crosspan.data.io import ImageProperties, read_image, write_image
from crosspan.evaluation.metrics import compute_metrics
from crosspan.report.html import annotator_table

runner = CliRunner()
P = ImageProperties(shape=(16, 28, 28), spacing=(2.0, 1.0, 1.0), origin=(0, 0, 0),
                    direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))
ANNOTATORS = ("ann1", "ann2", "ann3")


def truth(seed: int) -> np.ndarray:
    """An ellipsoid of random size and position (a stand-in pancreas)."""
    r = np.random.default_rng(seed)
    c = np.array(P.shape) / 2 + r.uniform(-2, 2, 3)
    rad = r.uniform([8, 6, 5], [12, 9, 8])
    zz, yy, xx = np.mgrid[:16, :28, :28]
    return (((zz - c[0]) * 2.0) ** 2 / rad[0] ** 2 + (yy - c[1]) ** 2 / rad[1] ** 2
            + (xx - c[2]) ** 2 / rad[2] ** 2) <= 1


def perturb(gt: np.ndarray, seed: int, flip: float, grow: bool = False) -> np.ndarray:
    """Random boundary flips; ``grow`` first dilates in-plane by one voxel (systematic over-segmentation)."""
    r = np.random.default_rng(seed)
    base = ndimage.binary_dilation(gt, np.array([[[0, 1, 0], [1, 1, 1], [0, 1, 0]]], bool)) if grow else gt
    boundary = ndimage.binary_dilation(base) & ~ndimage.binary_erosion(base)
    out = base.copy()
    flips = boundary & (r.random(gt.shape) < flip)
    out[flips] = ~out[flips]
    return out


def annotate(gt: np.ndarray, annotator: str, case: int) -> np.ndarray:
    seed = 1000 * ANNOTATORS.index(annotator) + case if annotator in ANNOTATORS else 99_000 + case
    if annotator == "ann3":
        return perturb(gt, seed, flip=0.2, grow=True)
    return perturb(gt, seed, flip=0.1 if annotator == "expert" else 0.2)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return compute_metrics(a, b, P.spacing)["dice"]


@pytest.fixture
def cohort(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    rows, gts = [], {}
    r = np.random.default_rng(0)
    for i, (center, seq, pat) in enumerate((c, s, p) for c in "AB" for s in ("T1", "T2") for p in range(3)):
        case = f"{center}_{pat:04d}_{seq}"
        gts[case] = truth(i)
        img = (gts[case] * 80 + r.normal(100, 10, P.shape)).astype(np.float32)
        write_image(img, P, tmp_path / "ds" / f"{case}.nii.gz")
        rows.append({"case_id": case, "patient_id": f"P{center}{pat}", "center": center, "sequence": seq,
                     "image": f"{case}.nii.gz"})
    pd.DataFrame(rows).to_csv(tmp_path / "ds" / "manifest.csv", index=False)
    cat, _ = build_catalog(tmp_path / "ds" / "manifest.csv", workers=1, progress=False)
    cat.to_csv(tmp_path / "catalog.csv", index=False)
    return tmp_path / "catalog.csv", gts


def _return_masks(assign: Path, key: pd.DataFrame, gts: dict[str, np.ndarray], skip: str) -> None:
    """Each annotator draws the cases on their work list (``skip`` is one mask ann2 has not sent yet)."""
    cases = key.set_index("code")["case_id"]
    for a in ANNOTATORS:
        for code in pd.read_csv(assign / a / "worklist.csv")["code"]:
            if (a, code) != ("ann2", skip):
                case = cases[code]
                write_image(annotate(gts[case], a, list(gts).index(case)).astype(np.uint8), P,
                            assign / a / "masks" / f"{code}.nii.gz")


def test_protocol_end_to_end(tmp_path: Path, cohort: tuple[Path, dict[str, np.ndarray]]) -> None:
    catalog, gts = cohort
    assign = tmp_path / "assign"
    r = runner.invoke(app, ["annotate", "assign", str(catalog), "--annotators", ",".join(ANNOTATORS), "-o",
                            str(assign)])
    assert r.exit_code == 0, r.output
    key = pd.read_csv(assign / "key.csv", dtype=str)
    assert all(Path(p).is_absolute() for p in key["image"])  # later steps may run from any folder
    skip = pd.read_csv(assign / "ann2" / "worklist.csv")["code"].iloc[0]
    _return_masks(assign, key, gts, skip)

    # 1. compare with a mask missing: listed with its code, not a crash
    r = runner.invoke(app, ["annotate", "compare", str(assign)])
    assert r.exit_code == 0, r.output
    missing = pd.read_csv(assign / "agreement_missing.csv")
    assert missing[["annotator", "code"]].values.tolist() == [["ann2", skip]]
    assert f"ann2: 1 mask(s) not back: {skip}" in " ".join(r.output.split())
    assert skip not in set(pd.read_csv(assign / "agreement.csv")["code"])

    # every case compared once, with its own annotator pair
    case = key.set_index("code").loc[skip, "case_id"]
    write_image(annotate(gts[case], "ann2", list(gts).index(case)).astype(np.uint8), P,
                assign / "ann2" / "masks" / f"{skip}.nii.gz")
    r = runner.invoke(app, ["annotate", "compare", str(assign)])
    assert r.exit_code == 0, r.output
    table = pd.read_csv(assign / "agreement.csv", dtype={"code": str})
    assert sorted(table["code"]) == sorted(key["code"]) and table["code"].is_unique
    pairs = key.set_index("code")[["annotator_1", "annotator_2"]]
    assert (table.set_index("code")[["annotator_a", "annotator_b"]].loc[pairs.index].values == pairs.values).all()
    assert pd.read_csv(assign / "agreement_missing.csv").empty

    # the sloppy annotator has the lowest agreement, and over-segments
    per = pd.read_csv(assign / "agreement_annotators.csv").set_index("annotator")
    assert per["dice_mean"].idxmin() == "ann3" and per.loc["ann3", "volume_bias_ml"] > 0
    assert per["cases"].sum() == 2 * len(key)
    in_report = annotator_table(table).set_index("annotator")  # the report's agreement section shows the same
    assert in_report["dice_mean"].round(4).equals(per["dice_mean"]) and annotator_table(table.drop(
        columns=["annotator_a", "annotator_b"])) is None

    # flagged cases are exactly those below the thresholds, recomputed here from the masks
    expected = set()
    for row in key.itertuples():
        a, _ = read_image(assign / row.annotator_1 / "masks" / f"{row.code}.nii.gz")
        b, _ = read_image(assign / row.annotator_2 / "masks" / f"{row.code}.nii.gz")
        m = compute_metrics(b > 0, a > 0, P.spacing)
        if m["dice"] < 0.8 or m["hd95"] > 10.0:
            expected.add(row.code)
    flagged = set(pd.read_csv(assign / "agreement_adjudicate.csv", dtype={"code": str})["code"])
    assert flagged == expected and 0 < len(flagged) < len(key)
    assert flagged == set(table.loc[table["adjudicate"], "code"])

    # 2. adjudicate: blinded work list for a third person, recorded in the key
    bad = runner.invoke(app, ["annotate", "adjudicate", str(assign), "--adjudicator", "ann3"])
    assert bad.exit_code == 2 and "choose a third person" in bad.output
    assert not (assign / "adjudication_ann3").exists()
    r = runner.invoke(app, ["annotate", "adjudicate", str(assign), "--adjudicator", "expert"])
    assert r.exit_code == 0, r.output
    adj = assign / "adjudication_expert"
    wl = pd.read_csv(adj / "worklist.csv")
    key = pd.read_csv(assign / "key.csv", dtype=str, keep_default_na=False)
    sent = key[key["adjudicator"] == "expert"]
    assert set(sent["code"]) == flagged and sorted(wl["code"]) == sorted(sent["adjudication_code"])
    listing = " ".join(str(p.relative_to(adj)) for p in adj.rglob("*")) + " ".join(wl.astype(str).values.ravel())
    assert not any(c in listing for c in key["case_id"]) and not any(c in listing for c in key["code"])
    assert all((adj / wl.loc[i, f"candidate_{k}"]).is_file() for i in wl.index for k in (1, 2))
    assert not any((adj / p).is_symlink() for p in wl["image"])

    r = runner.invoke(app, ["annotate", "consensus", str(assign), "-o", str(tmp_path / "early")])
    assert r.exit_code == 0 and f"{len(flagged)} adjudication(s) still pending" in " ".join(r.output.split())
    early = pd.read_csv(tmp_path / "early" / "manifest.csv", keep_default_na=False)
    assert set(early.loc[early["adjudication"] == "pending", "code"]) == flagged and set(early["source"]) == {
        "consensus"}

    # the expert returns masks for the flagged cases
    by_adj = sent.set_index("adjudication_code")["case_id"]
    for code in wl["code"]:
        case = by_adj[code]
        write_image(annotate(gts[case], "expert", list(gts).index(case)).astype(np.uint8), P,
                    adj / "masks" / f"{code}.nii.gz")

    again = runner.invoke(app, ["annotate", "adjudicate", str(assign), "--adjudicator", "expert"])
    assert again.exit_code == 2 and "already holds adjudicated masks" in again.output

    # 3. consensus: adjudicated where there is one, else STAPLE; a manifest naming each source
    final = tmp_path / "final"
    r = runner.invoke(app, ["annotate", "consensus", str(assign), "-o", str(final), "--with-images"])
    assert r.exit_code == 0, r.output
    man = pd.read_csv(final / "manifest.csv", keep_default_na=False).set_index("case_id")
    assert sorted(man.index) == sorted(gts)
    assert set(man.loc[man["source"] == "adjudicated", "code"]) == flagged
    assert set(man["source"]) == {"adjudicated", "consensus"} and set(man["method"]) == {"staple", ""}

    # 4. the final labels are closer to the truth than any annotator's, on average
    final_dice = {c: dice(read_image(final / man.loc[c, "label"])[0] > 0, gts[c]) for c in man.index}
    print({s: np.mean([final_dice[c] for c in man.index[man["source"] == s]]) for s in set(man["source"])})
    for a in ANNOTATORS:
        mine = key[(key["annotator_1"] == a) | (key["annotator_2"] == a)]
        own = np.mean([dice(read_image(assign / a / "masks" / f"{r.code}.nii.gz")[0] > 0, gts[r.case_id])
                       for r in mine.itertuples()])
        print(a, own, np.mean(list(final_dice.values())))
        assert np.mean(list(final_dice.values())) > own, a
    conf, _ = read_image(final / man.iloc[0]["confidence"])
    assert 0.0 <= conf.min() and conf.max() <= 1.0

    # the manifest is the dataset with its final labels
    cat, _ = build_catalog(final / "manifest.csv", workers=1, progress=False)
    assert len(cat) == len(gts) and (cat["label"].astype(str) != "").all()


def test_bad_inputs_write_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    r = runner.invoke(app, ["annotate", "compare", str(empty)])
    assert r.exit_code == 2 and "not an assignment folder" in r.output and not (empty / "agreement.csv").exists()
    r = runner.invoke(app, ["annotate", "adjudicate", str(empty), "--adjudicator", "x"])
    assert r.exit_code == 2 and "key.csv" in r.output
    r = runner.invoke(app, ["annotate", "consensus", str(empty), "-o", str(tmp_path / "final")])
    assert r.exit_code == 2 and "assignment folder" in r.output and not (tmp_path / "final").exists()
    pd.DataFrame([{"code": "c1", "case_id": "A_1_T1", "center": "A", "sequence": "T1", "annotator_1": "a",
                   "annotator_2": "b", "image": "x.nii.gz"}]).to_csv(empty / "key.csv", index=False)
    r = runner.invoke(app, ["annotate", "compare", str(empty)])
    assert r.exit_code == 2 and "no case has both masks back yet (missing a: 1, b: 1)" in " ".join(r.output.split())
    r = runner.invoke(app, ["annotate", "adjudicate", str(empty), "--adjudicator", "x"])
    assert r.exit_code == 2 and "run `crosspan annotate compare" in " ".join(r.output.split())
    r = runner.invoke(app, ["annotate", "consensus", str(empty), "-o", str(tmp_path / "final"), "--method", "mean"])
    assert r.exit_code == 2 and "unknown consensus method" in r.output
    r = runner.invoke(app, ["annotate", "consensus", str(empty), "-o", str(tmp_path / "final")])
    assert r.exit_code == 2 and "no mask returned for any case yet" in r.output
    assert sorted(p.name for p in empty.iterdir()) == ["key.csv"] and not (tmp_path / "final").exists()
