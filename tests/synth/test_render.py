"""`crosspan synth render`: label maps -> multi-sequence images through a label -> tissue mapping (issue #12)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.data.catalog import catalog_from
from crosspan.data.io import ImageProperties, read_image, write_image
from crosspan.synth.render_labels import load_mapping, map_labels, preset_path
from crosspan.synth.tissues import Tissue

runner = CliRunner()
PROPS = ImageProperties(shape=(12, 40, 48), spacing=(4.0, 3.0, 3.0), origin=(0.0, 0.0, 0.0),
                        direction=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))


def totalseg_like(seed: int) -> np.ndarray:
    """A TotalSegmentator-MR-like map: liver 5, pancreas 7, aorta 23, spleen 1, an unknown id 99; the rest 0."""
    g = np.random.default_rng(seed)
    z, y, x = np.mgrid[:12, :40, :48]
    lab = np.zeros(PROPS.shape, dtype=np.uint8)
    lab[((y - 20) / 14) ** 2 + ((x - 24) / 18) ** 2 < 1] = 13  # small bowel filling the body
    lab[:, 8:20, 6:20] = 5
    lab[:, 14:20, 36:44] = 1
    lab[3:9, 22:26, 16 + g.integers(0, 4):34] = 7
    lab[:, 26:30, 22:26] = 23
    lab[10:, 30:33, 10:14] = 99
    return lab


@pytest.fixture(scope="module")
def labels_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("labels")
    for i in range(3):
        write_image(totalseg_like(i), PROPS, d / f"s{i:02d}.nii.gz")
    return d


def _render(labels: Path, out: Path, *extra: str) -> object:
    return runner.invoke(app, ["synth", "render", str(labels), str(out), "--sequences", "T1,T2,OOP", "--centers",
                               "A,B", "--seed", "3", *extra])


def test_render_writes_a_readable_dataset_pancreas_exact_and_seeded(labels_dir: Path, tmp_path: Path) -> None:
    res = _render(labels_dir, tmp_path / "out", "--preset", "totalseg-mr")
    assert res.exit_code == 0, res.output
    assert "99" in res.output and "muscle" in res.output  # unknown id -> default tissue, with a warning
    man = pd.read_csv(tmp_path / "out" / "manifest.csv")
    assert len(man) == 9 and set(man["sequence"]) == {"T1", "T2", "OOP"} and set(man["center"]) == {"A", "B"}
    assert man["tissue"].notna().all()
    cat = catalog_from(tmp_path / "out", progress=False)
    assert len(cat) == 9 and (cat["label_voxels"] > 0).all()
    for row in man.itertuples():
        src, _ = read_image(labels_dir / f"{row.patient_id}.nii.gz")
        lab, props = read_image(tmp_path / "out" / row.label)
        np.testing.assert_array_equal(lab, (np.rint(src) == 7).astype(lab.dtype))  # pancreas preserved exactly
        assert props.spacing == pytest.approx(PROPS.spacing)
        tissue, _ = read_image(tmp_path / "out" / row.tissue)
        assert (tissue[np.rint(src) == 99] == Tissue.MUSCLE).all()
        assert (tissue[np.rint(src) == 23] == Tissue.AORTA).all()
    # the three sequences differ in contrast: pancreas vs liver signal ratio changes between T1 and T2
    imgs = {r.sequence: read_image(tmp_path / "out" / r.image)[0] for r in man[man.patient_id == "s00"].itertuples()}
    src = np.rint(read_image(labels_dir / "s00.nii.gz")[0])
    ratio = {s: imgs[s][src == 7].mean() / imgs[s][src == 5].mean() for s in imgs}
    assert abs(ratio["T1"] - ratio["T2"]) > 0.1
    # same seed, same images
    assert _render(labels_dir, tmp_path / "again", "--preset", "totalseg-mr").exit_code == 0
    a = read_image(tmp_path / "out" / man.image[0])[0]
    b = read_image(tmp_path / "again" / man.image[0])[0]
    np.testing.assert_array_equal(a, b)


def test_fill_puts_tissue_inside_the_body_hull_only() -> None:
    lab = totalseg_like(0)
    lab[lab == 13] = 0  # unlabelled body around the organs
    spec = load_mapping(preset_path("totalseg-mr"))
    tissue, unknown = map_labels(lab, spec, PROPS.spacing)
    assert unknown == [99]
    between = tissue[3:9, 21, 16:20]  # between liver and pancreas (inside the hull), unlabelled in the source
    assert (between == Tissue.VISCERAL_FAT).all()
    assert (tissue[:, 0, 0] == Tissue.AIR).all()


@pytest.mark.parametrize("text,problem", [
    ("labels: {1: liverr}", "not a tissue class"),
    ("labels: {one: liver}", "not an integer"),
    ("name: x\n", "no 'labels'"),
    ("labels: {1: [liver", "not valid YAML"),
])
def test_bad_mapping_is_one_clear_error_and_no_output(labels_dir: Path, tmp_path: Path, text: str,
                                                      problem: str) -> None:
    bad = tmp_path / "map.yaml"
    bad.write_text(text)
    res = _render(labels_dir, tmp_path / "out", "--mapping", str(bad))
    assert res.exit_code == 2 and problem in res.output and "map.yaml" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "out").exists()


def test_preset_and_mapping_are_exclusive_and_presets_parse(labels_dir: Path, tmp_path: Path) -> None:
    res = _render(labels_dir, tmp_path / "o")
    assert res.exit_code == 2 and "exactly one" in res.output
    for name in ("crosspan", "totalseg-ct", "totalseg-mr"):
        spec = load_mapping(preset_path(name))
        assert Tissue.PANCREAS in spec["labels"].values()
    assert load_mapping(preset_path("totalseg-ct"))["labels"][7] == Tissue.PANCREAS
    assert load_mapping(preset_path("totalseg-ct"))["labels"][63] == Tissue.IVC
    assert len(load_mapping(preset_path("totalseg-ct"))["labels"]) == 118
