"""Engine hook for auxiliary maps: tissue label maps travel catalog -> cache -> patches -> augmented batches, and
`crosspan train --method physics-rand` runs on a label-map protocol (issue #12)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.data.catalog import catalog_from
from crosspan.synth.tissues import Tissue
from crosspan.training.loop import augmented_batch
from crosspan.training.sampling import PatchSampler, open_case

runner = CliRunner()


def _ok(args: list[str]) -> None:
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("labelmaps")
    data = root / "cohort"
    _ok(["synth", "cohort", data, "--patients", "6", "--centers", "A,B", "--sequences", "T1,OOP", "--seed", "2",
         "--shape", "small", "--workers", "1", "--tissue-maps"])
    _ok(["data", "splits", data, "-p", "cross-sequence", "--train", "T1", "--training-input", "label-maps",
         "--test-fraction", "0.34", "--val-fraction", "0", "-o", root / "splits.json"])
    _ok(["preprocess", data, "-o", root / "plan", "--splits", root / "splits.json", "--cases", "split"])
    return {"root": root, "data": data, "plan": root / "plan", "splits": root / "splits.json"}


def test_catalog_and_splits_carry_tissue_maps(prepared: dict[str, Path]) -> None:
    cat = catalog_from(prepared["data"], progress=False)
    with_map = cat[cat["tissue"] != ""]
    assert set(with_map["sequence"]) == {"T1"} and len(with_map) == 6
    split = json.loads(prepared["splits"].read_text())["splits"][0]
    assert split["training_input"] == "label-maps"
    assert split["train"] and all(c.endswith("_T1") for c in split["train"])
    assert any(c.endswith("_OOP") for c in split["test"])
    plan = json.loads((prepared["plan"] / "plan.json").read_text())
    assert plan["training_input"] == "label-maps"


def test_tissue_patch_and_warp_match_the_label(prepared: dict[str, Path]) -> None:
    plan = json.loads((prepared["plan"] / "plan.json").read_text())
    cases = [open_case(prepared["plan"] / "cache", c) for c in plan["cases"]["train"]]
    assert all(c.aux["tissue"].shape == c.image.shape for c in cases)
    sampler = PatchSampler(cases, [24, 32, 32], 4, seed=0, fg_fraction=1.0)
    assert sampler.aux_keys == ["tissue"]
    b = sampler.batch(0)
    assert b["tissue"].shape == b["label"].shape and len(np.unique(b["tissue"])) > 4
    np.testing.assert_array_equal(b["label"], (b["tissue"] == Tissue.PANCREAS).astype(np.uint8))
    # rotation/scaling, elastic deformation and mirroring move the tissue map exactly like the label
    moved = 0
    for step in range(6):
        g = torch.Generator().manual_seed(step)
        out = augmented_batch(sampler.batch(step), g, {"mirror": True, "elastic": 0.5}, torch.device("cpu"),
                              ["tissue"], [])
        assert torch.equal(out["label"], (out["tissue"] == Tissue.PANCREAS).long())
        moved += int(not torch.equal(out["tissue"], torch.from_numpy(sampler.batch(step)["tissue"]).long()))
    assert moved > 0


def test_physics_rand_trains_from_label_maps_and_erm_is_refused(prepared: dict[str, Path]) -> None:
    torch.set_num_threads(1)
    run = prepared["root"] / "run"
    _ok(["train", prepared["plan"], "-o", run, "--method", "physics-rand", "--steps", "3", "--patch", "16,32,32",
         "--ckpt-every", "3"])
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3] and all(np.isfinite(r["loss"]) for r in rows)
    res = runner.invoke(app, ["train", str(prepared["plan"]), "-o", str(prepared["root"] / "erm"), "--steps", "2",
                              "--patch", "16,32,32"])
    assert res.exit_code != 0 and "label maps" in res.output and "physics-rand" in res.output


def test_label_map_protocol_without_maps_is_a_clear_error(tmp_path: Path) -> None:
    data = tmp_path / "cohort"
    _ok(["synth", "cohort", data, "--patients", "2", "--centers", "A", "--sequences", "T1", "--seed", "1",
         "--shape", "small", "--workers", "1"])
    res = runner.invoke(app, ["data", "splits", str(data), "-p", "cross-sequence", "--train", "T1",
                              "--training-input", "label-maps", "-o", str(tmp_path / "s.json")])
    assert res.exit_code != 0 and "tissue" in res.output and "--tissue-maps" in res.output
    assert not (tmp_path / "s.json").exists()
