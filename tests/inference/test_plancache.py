"""Prediction reuses the plan's cache: a cached case skips preprocessing and gives the same mask and probability
voxel for voxel; a changed source file, another plan hash or an old entry is preprocessed afresh."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import crosspan.inference.pipeline as pipeline
from crosspan.cli.main import app
from crosspan.data.io import ImageProperties, read_image, write_image
from crosspan.inference.plancache import PlanCache
from crosspan.inference.predict import predict
from crosspan.preprocess.plan import Plan, plan_hash
from toy_scans import toy_volume

runner = CliRunner()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the calls of the preprocessing that prediction would run."""
    seen: list[str] = []
    real = pipeline.preprocess_image

    def counted(*args: Any, **kwargs: Any) -> Any:
        seen.append("pre")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "preprocess_image", counted)
    return seen


def _predict(run: Path, source: Path, out: Path, use_cache: bool) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    stats: dict[str, int] = {}
    written = predict(run, source, out, save_probabilities=True, progress=False, use_cache=use_cache,
                      cache_stats=stats)
    arrays = {}
    for p in written:
        arrays[p.name] = read_image(p)[0]
        arrays["prob_" + p.name] = read_image(p.parent / "probabilities" / p.name)[0]
    return stats, arrays


def test_cached_cases_skip_preprocessing_and_give_identical_output(trained: dict[str, Path],
                                                                   calls: list[str]) -> None:
    root = trained["root"]
    stats, cached = _predict(trained["run"], trained["catalog"], root / "with", True)
    assert stats == {"cached": 2, "preprocessed": 0, "resumed": 0} and calls == []
    stats, fresh = _predict(trained["run"], trained["catalog"], root / "without", False)
    assert stats == {"cached": 0, "preprocessed": 2, "resumed": 0} and len(calls) == 2
    assert cached.keys() == fresh.keys() and len(cached) == 4
    for name, arr in fresh.items():
        assert arr.dtype == cached[name].dtype and np.array_equal(arr, cached[name]), name
    prob = fresh["prob_case2.nii.gz"]
    assert prob.std() > 0 and prob.shape == (24, 32, 32)  # a real field on the source grid, not a constant


def test_changed_source_file_or_plan_hash_is_not_reused(trained: dict[str, Path], tmp_path: Path,
                                                        calls: list[str]) -> None:
    data = tmp_path / "data"
    shutil.copytree(trained["root"] / "data", data)
    plan = Plan.load(trained["run"])
    cache = PlanCache(trained["plan"] / "cache", plan_hash(plan))
    original = trained["root"] / "data" / "case2.nii.gz"
    assert cache.lookup(original) is not None
    assert cache.lookup(data / "case2.nii.gz") is None  # a copy elsewhere is another file
    assert PlanCache(trained["plan"] / "cache", "0" * 16).lookup(original) is None
    src = tmp_path / "src"
    shutil.copytree(trained["root"], src, ignore=shutil.ignore_patterns("with", "without", "c1", "c2"))
    _repoint(src, trained["root"])
    stats, _ = _predict(src / "run", src / "data" / "case3.nii.gz", tmp_path / "p0", True)
    assert stats == {"cached": 1, "preprocessed": 0, "resumed": 0} and calls == []  # the copy's own cache is reused
    # the same path rewritten with other content: no reuse, and the mask is that of fresh preprocessing
    img, _ = toy_volume(7, (24, 32, 32))
    props = ImageProperties(shape=img.shape, spacing=(2.0, 1.0, 1.0), origin=(10.0, -5.0, 3.0),
                            direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))
    write_image(img, props, src / "data" / "case2.nii.gz")
    stats, after = _predict(src / "run", src / "data" / "case2.nii.gz", tmp_path / "p1", True)
    assert stats == {"cached": 0, "preprocessed": 1, "resumed": 0} and len(calls) == 1
    _, fresh = _predict(src / "run", src / "data" / "case2.nii.gz", tmp_path / "p2", False)
    assert np.array_equal(after["prob_case2.nii.gz"], fresh["prob_case2.nii.gz"])
    # the same bytes with a new mtime: not trusted either
    os.utime(src / "data" / "case3.nii.gz", (1.0, 1.0))
    stats, _ = _predict(src / "run", src / "data" / "case3.nii.gz", tmp_path / "p3", True)
    assert stats["cached"] == 0
    # the run's plan.json preprocesses differently (another hash): the cache of the old plan is not used
    doc = json.loads((src / "run" / "plan.json").read_text())
    doc["normalization"]["clip_percentiles"] = [1.0, 99.0]
    (src / "run" / "plan.json").write_text(json.dumps(doc))
    stats, _ = _predict(src / "run", src / "data" / "case0.nii.gz", tmp_path / "p4", True)
    assert stats == {"cached": 0, "preprocessed": 1, "resumed": 0}


def test_old_or_broken_entries_are_not_reused(trained: dict[str, Path], tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    shutil.copytree(trained["plan"] / "cache", cache_dir)
    h = plan_hash(Plan.load(trained["run"]))
    image = trained["root"] / "data" / "case3.nii.gz"
    assert PlanCache(cache_dir, h).lookup(image) is not None
    meta = json.loads((cache_dir / "case3.json").read_text())
    del meta["image_path"]  # an entry from before the cache recorded the absolute path
    (cache_dir / "case3.json").write_text(json.dumps(meta))
    assert PlanCache(cache_dir, h).lookup(image) is None
    (cache_dir / "case2.npy").write_bytes(b"half")  # a truncated array
    lookup = PlanCache(cache_dir, h)
    assert lookup.lookup(trained["root"] / "data" / "case2.nii.gz") is None and lookup.misses == 1


def test_cli_reports_cache_use_and_no_cache_switch(trained: dict[str, Path]) -> None:
    img = trained["root"] / "data" / "case3.nii.gz"
    res = runner.invoke(app, ["predict", str(trained["run"]), str(img), "-o", str(trained["root"] / "c1"),
                              "--threads", "1"])
    assert res.exit_code == 0 and "plan cache: 1 of 1 case(s)" in res.output, res.output
    res = runner.invoke(app, ["predict", str(trained["run"]), str(img), "-o", str(trained["root"] / "c2"),
                              "--threads", "1", "--no-cache"])
    assert res.exit_code == 0 and "plan cache" not in res.output, res.output
    a, b = (read_image(trained["root"] / d / "case3.nii.gz")[0] for d in ("c1", "c2"))
    assert np.array_equal(a, b)


def _repoint(copy: Path, original: Path) -> None:
    """Make the copied run name the copied plan, and the copied cache entries the copied images (as if the
    copy had been preprocessed there; their sizes/mtimes are the copies')."""
    model = json.loads((copy / "run" / "model.json").read_text())
    model["plan_dir"] = str(copy / "plan")
    (copy / "run" / "model.json").write_text(json.dumps(model))
    for meta_path in (copy / "plan" / "cache").glob("*.json"):
        meta = json.loads(meta_path.read_text())
        image = Path(meta["image_path"].replace(str(original), str(copy)))
        st = image.stat()
        meta.update(image=str(image), image_path=str(image), image_stat=[float(st.st_size), float(st.st_mtime)])
        meta_path.write_text(json.dumps(meta))
