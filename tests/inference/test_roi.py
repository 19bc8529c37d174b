"""Coarse-to-fine sliding window: ``--roi auto`` uses the full window's own tiles and blend (exact inside the
regions, for any network); ``--roi fast``'s crop pass gives the same Dice as the full window on a trained ``tiny``
model with far fewer tiles, and its guard; every fallback path, tile counts, the CLI options."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.core.dice import dice
from crosspan.data.io import read_image
from crosspan.inference.pipeline import load_run
from crosspan.inference.postprocess import postprocess
from crosspan.inference.roi import MAX_UNCERTAIN, coarse_probability, predict_volume_roi, uncertain_share
from crosspan.inference.tiles import TileWindow, window_tiles
from crosspan.methods.base import Method
from crosspan.methods.sliding import predict_volume
from toy_scans import toy_dataset

runner = CliRunner()
PATCH = [16, 32, 32]


class Pointwise(Method):
    """Foreground where the image exceeds 0.5, voxel by voxel: a tile's position cannot change its output."""

    def __init__(self) -> None:
        super().__init__(torch.nn.Identity(), ["A:T1"], {})

    def predict(self, image: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid((image - 0.5) * 20)
        return torch.cat([1 - p, p], dim=1)


class Conv(Method):
    """A random 2-layer convolution: its output near a tile's edge depends on the tile (zero padding)."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        super().__init__(torch.nn.Sequential(torch.nn.Conv3d(1, 4, 3, padding=1), torch.nn.ReLU(),
                                             torch.nn.Conv3d(4, 2, 5, padding=2)), ["A:T1"], {})

    def predict(self, image: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.network(image), dim=1)


class TilePosition(Method):
    """Foreground where the image exceeds 0.5 in the first half of the tile along x: an output that depends on where
    the tile lies, as an unsure model's may (blended, a stripe pattern that follows the tile grid)."""

    def __init__(self) -> None:
        super().__init__(torch.nn.Identity(), ["A:T1"], {})

    def predict(self, image: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid((image - 0.5) * 20)
        p[..., image.shape[-1] // 2:] = 0.0
        return torch.cat([1 - p, p], dim=1)


class UnsureTilePosition(Method):
    """Like :class:`TilePosition`, but unsure: 0.62 in the first half of the tile along x, 0.38 in the second, where
    the image exceeds 0.5; blended, the gland hovers around 0.5 and which side a voxel falls on follows the grid."""

    def __init__(self) -> None:
        super().__init__(torch.nn.Identity(), ["A:T1"], {})

    def predict(self, image: torch.Tensor) -> torch.Tensor:
        p = (image > 0.5).float() * 0.62
        p[..., image.shape[-1] // 2:] *= 0.38 / 0.62
        return torch.cat([1 - p, p], dim=1)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A ``tiny`` ERM model trained 150 steps on 6 toy scans; 6 held-out test scans."""
    root = tmp_path_factory.mktemp("roi")
    cat = toy_dataset(root / "data", n=12, shape=(32, 64, 64), splits=("train",) * 6 + ("test",) * 6)
    res = runner.invoke(app, ["preprocess", str(cat), "-o", str(root / "plan"), "--train-domains", "A:T1,B:T1"])
    assert res.exit_code == 0, res.output
    torch.set_num_threads(1)
    res = runner.invoke(app, ["train", str(root / "plan"), "-o", str(root / "run"), "--steps", "150", "--patch",
                              ",".join(map(str, PATCH)), "--hp", "optimizer=adamw", "--hp", "lr=0.01", "--seed", "1",
                              "--ckpt-every", "1000", "--threads", "1"])
    assert res.exit_code == 0, res.output
    return {"root": root, "catalog": cat, "cache": root / "plan" / "cache", "run": root / "run"}


def _lcc_dice(prob: np.ndarray, label: np.ndarray) -> float:
    return dice(postprocess(prob[1] > 0.5, "lcc", 1.0, 0.0), label, empty=1.0)  # as `crosspan predict` post-processes


@pytest.mark.parametrize("zoom", [1.0, 2.0])
def test_trained_tiny_same_dice_as_full_window_with_fewer_tiles(tiny_run: dict[str, Path], zoom: float) -> None:
    run = load_run(tiny_run["run"])
    method, patch = run.method, list(run.model.patch_size)
    cat = pd.read_csv(tiny_run["catalog"])
    full_d, roi_d, full_t, roi_t, notes, shares = [], [], 0, 0, [], []
    for case in cat.loc[cat["split"] == "test", "case_id"]:
        image = np.load(tiny_run["cache"] / f"{case}.npy")
        label = np.load(tiny_run["cache"] / f"{case}_seg.npy")
        counter = [0]
        full = predict_volume(method, image, patch, tiles=counter)
        roi, rep = predict_volume_roi(method, image, patch, coarse_zoom=zoom)
        assert counter[0] == rep.tiles_full_window == window_tiles(image.shape, patch, 0.5)
        if rep.crop is None:  # the exact fine pass: the full window's values inside the regions
            inside = _inside(rep.boxes, image.shape)
            np.testing.assert_allclose(roi[:, inside], full[:, inside], atol=1e-4)
        notes += ["crop"] * (rep.crop is not None) + ["redone exactly"] * (rep.uncertain is not None
                                                                       and rep.uncertain > MAX_UNCERTAIN)
        shares += [] if rep.uncertain is None else [round(rep.uncertain, 3)]
        full_d.append(_lcc_dice(full, label))
        roi_d.append(_lcc_dice(roi, label))
        full_t, roi_t = full_t + counter[0], roi_t + rep.tiles
        notes += ["widened"] * (rep.widened > 0) + ["fell back"] * bool(rep.fallback)
    # the figures docs/engine.md quotes (pytest -s)
    diff = np.array(roi_d) - np.array(full_d)
    print(f"zoom {zoom}: Dice full {np.mean(full_d):.4f} roi {np.mean(roi_d):.4f} "
          f"(worst scan {diff.min():+.4f}); "
          f"tiles full {full_t} roi {roi_t}; {len(full_d)} scans, {notes.count('widened')} widened, "
          f"{notes.count('fell back')} fell back, {notes.count('crop')} crop passes kept, "
          f"{notes.count('redone exactly')} redone exactly (uncertain shares {shares})")
    assert np.mean(full_d) > 0.85, full_d  # the model has learned the task, so the comparison means something
    assert np.mean(roi_d) >= np.mean(full_d) - 0.005, (roi_d, full_d)
    assert diff.min() >= -0.02, (roi_d, full_d)
    assert roi_t < 0.7 * full_t, (roi_t, full_t)


def _bar_image(shape: tuple[int, int, int] = (24, 64, 80)) -> np.ndarray:
    image = np.zeros(shape, dtype=np.float32)
    image[8:14, 20:30, 10:60] = 1.0  # a bar longer along x than a patch
    return image


def _inside(boxes: list[list[tuple[int, int]]], shape: tuple[int, ...]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for box in boxes:
        mask[tuple(slice(lo, hi) for lo, hi in box)] = True
    return mask


@pytest.mark.parametrize("tta", [False, True])
def test_pointwise_network_roi_equals_full_window_with_fewer_tiles(tta: bool) -> None:
    method, image = Pointwise(), np.zeros((40, 128, 128), dtype=np.float32)
    image[4:12, 90:110, 8:30] = 1.0  # a blob in one corner of the field of view
    full = predict_volume(method, image, PATCH, tta=tta)
    roi, rep = predict_volume_roi(method, image, PATCH, tta=tta)
    assert not rep.fallback and rep.widened == 0 and len(rep.boxes) == 1
    inside = _inside(rep.boxes, image.shape)
    np.testing.assert_allclose(roi[:, inside], full[:, inside], atol=1e-5)
    np.testing.assert_allclose(roi, full, atol=1e-4)  # outside: background either way (uncovered voxels: 1)
    assert rep.tiles < 0.5 * rep.tiles_full_window, rep
    assert rep.to_dict()["tiles"] == rep.tiles_coarse + rep.tiles_fine


@pytest.mark.parametrize("shape", [(24, 64, 80), (10, 20, 40), (17, 33, 47), (40, 70, 33)])
def test_tile_window_all_tiles_is_monais_window(shape: tuple[int, int, int]) -> None:
    method, image = Conv(), np.random.default_rng(0).random(shape).astype(np.float32)
    with torch.no_grad():
        win = TileWindow(method, torch.from_numpy(image)[None, None], PATCH, 0.5, torch.contiguous_format, 2)
        assert win.add(win.all()) == window_tiles(shape, PATCH, 0.5) and win.add(win.all()) == 0
        np.testing.assert_allclose(win.prob().numpy(), predict_volume(method, image, PATCH), atol=1e-6)


@pytest.mark.parametrize("seed", range(8))
def test_tiles_touching_a_box_give_the_full_window_inside_it(seed: int) -> None:
    """For a network whose output depends on the tile (zero padding), not only for a voxel-wise one."""
    g = np.random.default_rng(seed)
    shape = tuple(int(v) for v in g.integers(12, 90, 3))
    image = g.random(shape).astype(np.float32)
    box = [(a, int(g.integers(a + 1, n + 1))) for a, n in ((int(g.integers(0, n)), n) for n in shape)]
    method = Conv()
    with torch.no_grad():
        win = TileWindow(method, torch.from_numpy(image)[None, None], PATCH, 0.5, torch.contiguous_format, 2)
        win.add(win.touching([box]))
        got = win.prob().numpy()
    inside = _inside([box], shape)
    np.testing.assert_allclose(got[:, inside], predict_volume(method, image, PATCH)[:, inside], atol=1e-6)


def test_nothing_found_falls_back_to_full_window(caplog: pytest.LogCaptureFixture) -> None:
    method, image = Pointwise(), np.zeros((24, 64, 80), dtype=np.float32)
    with caplog.at_level(logging.WARNING, logger="crosspan.inference.roi"):
        roi, rep = predict_volume_roi(method, image, PATCH)
    assert "no foreground" in rep.fallback and "falling back to the full sliding window" in caplog.text
    assert rep.tiles == rep.tiles_full_window  # the coarse tiles are reused: none evaluated twice
    np.testing.assert_allclose(roi, predict_volume(method, image, PATCH), atol=1e-6)


def test_foreground_outside_the_regions_widens_then_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    method, image = Pointwise(), _bar_image()
    full = predict_volume(method, image, PATCH)
    roi, rep = predict_volume_roi(method, image, PATCH, margin=[0, 0, 0])  # the crop = the bar: on its faces
    assert rep.widened == 1 and not rep.fallback and rep.crop is not None, rep
    np.testing.assert_allclose(roi, full, atol=1e-4)
    with caplog.at_level(logging.WARNING, logger="crosspan.inference.roi"):
        roi, rep = predict_volume_roi(method, image, PATCH, margin=[0, 0, 0], max_widen=0)
    assert "still outside the regions" in rep.fallback and "falling back" in caplog.text
    assert rep.tiles_coarse + rep.tiles_fine < 2 * rep.tiles_full_window  # the full window's tiles: once each
    np.testing.assert_allclose(roi, full, atol=1e-6)


@pytest.mark.parametrize("zoom", [1.0, 2.0])
def test_a_crop_pass_unsure_of_the_gland_is_redone_exactly(zoom: float) -> None:
    """Step 3c: the crop pass is kept for a confident network and replaced by the exact pass, the full window's
    values inside the regions, for one whose blended output hovers near 0.5 (so its mask follows the tile grid)."""
    image = np.zeros((24, 64, 120), dtype=np.float32)
    image[8:14, 20:30, 37:77] = 1.0
    roi, rep = predict_volume_roi(Pointwise(), image, PATCH, coarse_zoom=zoom, fine="crop")
    assert rep.crop is not None and rep.uncertain is not None and rep.uncertain < 0.2, rep
    method = UnsureTilePosition()
    full = predict_volume(method, image, PATCH)
    roi, rep = predict_volume_roi(method, image, PATCH, coarse_zoom=zoom, fine="crop")
    assert rep.uncertain is not None and rep.uncertain > MAX_UNCERTAIN and rep.crop is None, rep
    inside = _inside(rep.boxes, image.shape)
    np.testing.assert_allclose(roi[:, inside], full[:, inside], atol=1e-5)
    kept, rep0 = predict_volume_roi(method, image, PATCH, coarse_zoom=zoom, fine="crop", max_uncertain=float("inf"))
    assert rep0.crop is not None  # without the guard: another mask than the full window's, what the guard prevents
    assert ((kept[1] > 0.5) != (full[1] > 0.5))[inside].sum() > 0.05 * (full[1] > 0.5)[inside].sum()


def test_uncertain_share_counts_the_band_around_one_half() -> None:
    p = np.array([0.0, 0.35, 0.45, 0.55, 0.65, 0.95, 1.0, 0.2])
    assert uncertain_share(p) == pytest.approx(4 / 4)  # 0.35, 0.45, 0.55, 0.65 near 0.5; 4 voxels above 0.5
    assert uncertain_share(p, band=0.1) == pytest.approx(2 / 4)
    assert uncertain_share(np.zeros(4)) == 0.0 and uncertain_share(np.full(3, 0.45)) == 3.0  # no foreground


@pytest.mark.parametrize("shape", [(24, 64, 80), (10, 20, 40), (17, 33, 47)])
def test_window_tiles_counts_what_monai_evaluates(shape: tuple[int, int, int]) -> None:
    image = np.zeros(shape, dtype=np.float32)
    for overlap in (0.0, 0.5):
        counter = [0]
        predict_volume(Pointwise(), image, PATCH, overlap, tiles=counter)
        assert counter[0] == window_tiles(shape, PATCH, overlap)
    counter = [0]
    coarse_probability(Pointwise(), image, PATCH, 0.0, 2.0, "cpu", "none", 2, counter)
    assert counter[0] == window_tiles([s // 2 for s in shape], PATCH, 0.0)  # as the benchmark counts it


def test_cli_roi_auto_writes_masks_and_tile_report(tiny_run: dict[str, Path]) -> None:
    """``--roi auto`` (exact) writes the full window's mask with at most its tiles; ``--roi fast`` fewer tiles."""
    img = tiny_run["root"] / "data" / "case11.nii.gz"
    masks, reps = {}, {}
    for mode in ("none", "auto", "fast"):
        out = tiny_run["root"] / f"pred_roi_{mode}"
        res = runner.invoke(app, ["predict", str(tiny_run["run"]), str(img), "-o", str(out), "--roi", mode,
                                  "--threads", "1"])
        assert res.exit_code == 0, res.output
        masks[mode] = read_image(out / "case11.nii.gz")[0]
        if mode != "none":
            assert "coarse +" in res.output
            reps[mode] = json.loads((out / "roi.json").read_text())["case11"]
            assert 0 < reps[mode]["tiles"] == reps[mode]["tiles_coarse"] + reps[mode]["tiles_fine"]
    assert masks["auto"].any() and np.array_equal(masks["auto"], masks["none"])
    assert reps["auto"]["tiles"] <= reps["auto"]["tiles_full_window"] and reps["auto"]["crop"] is None
    assert reps["fast"]["tiles"] < reps["fast"]["tiles_full_window"] and reps["fast"]["crop"] is not None
    for args, problem in ((["--roi", "bogus"], "unknown --roi 'bogus'"),
                          (["--roi", "auto", "--roi-zoom", "0.5"], "--roi-zoom 0.5 out of range")):
        bad = tiny_run["root"] / "pred_bad"
        res = runner.invoke(app, ["predict", str(tiny_run["run"]), str(img), "-o", str(bad), *args])
        assert res.exit_code != 0 and f"error: {problem}. Fix:" in res.output, res.output
        assert not bad.exists()
