"""paired-sequence: unlabeled samples reach the gradient in proportion to their registration weight (weight 0 ->
none); a batch without transported labels fails clearly; `crosspan ssl pair` + preprocess + train end to end on a
tiny synthetic cohort, without ever reading the target scans' labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.core.errors import CrosspanError
from crosspan.data.io import read_image, write_image
from tests.methods.dg.test_augment import make_batch
from tests.methods.ssl.test_mean_teacher import build, grads, same, unlabeled_batch

runner = CliRunner()


def paired_batch(weight: list[float], seed: int = 7) -> dict:
    u = unlabeled_batch(seed)
    g = torch.Generator().manual_seed(seed)
    pseudo = (torch.rand(u["image"].shape, generator=g) > 0.7).long()
    return {**u, "pseudo_label": pseudo, "pseudo_weight": torch.tensor(weight)}


def unlabeled_grad(m, lab: dict, unl: dict) -> list[torch.Tensor]:
    """Gradient of the unlabeled term alone: total minus the labeled-only gradient."""
    return [a - b for a, b in zip(grads(m, lab, unl), grads(m, lab, None), strict=True)]


def test_unlabeled_gradient_scales_with_weight() -> None:
    torch.set_num_threads(1)
    lab = make_batch(b=2)
    m = build("paired-sequence", {"rampup_steps": 0, "quality_weights": True})
    g0 = unlabeled_grad(m, lab, paired_batch([0.0, 0.0]))
    assert all(float(g.abs().max()) < 1e-6 for g in g0)  # weight 0: no gradient from unlabeled samples
    g1 = unlabeled_grad(m, lab, paired_batch([1.0, 1.0]))
    g_half = unlabeled_grad(m, lab, paired_batch([0.5, 0.5]))
    assert max(float(g.abs().max()) for g in g1) > 1e-4
    assert same([0.5 * g for g in g1], g_half, atol=1e-6)  # linear in the weight
    # per sample: with weights [1, 0], sample 2's pseudo-label does not matter
    a, b = paired_batch([1.0, 0.0]), paired_batch([1.0, 0.0])
    b["pseudo_label"][1] = 1 - b["pseudo_label"][1]
    assert same(grads(m, lab, a), grads(m, lab, b))
    b["pseudo_label"][0] = 1 - b["pseudo_label"][0]
    assert not same(grads(m, lab, a), grads(m, lab, b))


def test_uniform_weights_count_accepted_pairs_fully() -> None:
    """quality_weights=false (the default): an accepted pair of weight 0.5 pulls like weight 1; a rejected one (0)
    still not."""
    torch.set_num_threads(1)
    lab = make_batch(b=2)
    quality = build("paired-sequence", {"rampup_steps": 0, "quality_weights": True})
    uniform = build("paired-sequence", {"rampup_steps": 0})
    uniform.network.load_state_dict(quality.network.state_dict())
    full = unlabeled_grad(quality, lab, paired_batch([1.0, 0.0]))
    assert same(unlabeled_grad(uniform, lab, paired_batch([0.5, 0.0])), full, atol=1e-6)
    assert not same(unlabeled_grad(quality, lab, paired_batch([0.5, 0.0])), full, atol=1e-6)
    assert all(float(g.abs().max()) < 1e-6 for g in unlabeled_grad(uniform, lab, paired_batch([0.0, 0.0])))


def test_pair_loss_rewards_the_pseudo_label_and_teacher_term() -> None:
    lab = make_batch(b=2)
    m = build("paired-sequence", {"rampup_steps": 0, "teacher_weight": 1.0})
    _, logs = m.loss(lab, paired_batch([1.0, 1.0]))
    assert logs["pair"] > 0 and "cons" in logs and logs["pair_w"] == pytest.approx(1.0)
    with pytest.raises(CrosspanError, match="ssl pair"):
        m.loss(lab, unlabeled_batch())


def _ok(args: list) -> str:
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res.output


def test_pair_preprocess_train_end_to_end(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    data = tmp_path / "cohort"
    _ok(["synth", "cohort", data, "-n", "3", "--centers", "A,B", "--sequences", "T1,OOP", "--seed", "1",
         "--shape", "small", "--workers", "1"])
    man = pd.read_csv(data / "manifest.csv").set_index("case_id")
    ids = sorted(man.index)
    t1 = [c for c in ids if c.endswith("_T1")]
    oop = [c for c in ids if c.endswith("_OOP")]
    splits = {"protocol": "test", "seed": 0, "params": {}, "catalog": str(data),
              "splits": [{"name": "fold0", "train": t1[:2], "val": [], "test": [t1[2]], "unlabeled": oop,
                          "train_domains": ["A:T1", "B:T1"]}]}
    sj = tmp_path / "splits.json"
    sj.write_text(json.dumps(splits))
    # the target scans' labels must never be read: keep the truth aside, then replace each by a valid decoy (a
    # corner block far from the pancreas); a pairing that read them would transport the decoy, not the T1 label
    truth = {c: read_image(data / man.loc[c, "label"])[0] for c in oop}
    for c in oop:
        lab, props = read_image(data / man.loc[c, "label"])
        decoy = np.zeros_like(lab)
        decoy[:2, :4, :4] = 1
        write_image(decoy, props, data / man.loc[c, "label"])
    out = tmp_path / "pair"
    text = _ok(["ssl", "pair", data, "--splits", sj, "-o", out, "--iterations", "60"])
    assert "2 paired" in text.replace("\n", " ")
    pairs = pd.read_csv(out / "pairs.csv").set_index("case_id")
    for c in oop[:2]:  # paired: the transported T1 label overlaps the (hidden) OOP truth
        pseudo, _ = read_image(pairs.loc[c, "pseudo_label"])
        t = truth[c] > 0
        assert 2 * (pseudo.astype(bool) & t).sum() / (pseudo.astype(bool).sum() + t.sum()) > 0.6
        assert 0 < pairs.loc[c, "weight"] <= 1
    assert pairs.loc[oop[2], "weight"] == 0 and not read_image(pairs.loc[oop[2], "pseudo_label"])[0].any()
    cat = pd.read_csv(out / "catalog.csv", keep_default_na=False).set_index("case_id")
    assert all(cat.loc[c, "pseudo_label"] for c in oop) and not any(cat.loc[c, "pseudo_label"] for c in t1)
    paired_split = json.loads((out / "splits_paired.json").read_text())["splits"][0]
    assert paired_split["unlabeled"] == [c for c in oop[:2] if pairs.loc[c, "weight"] > 0]
    stamp = (out / "pairs" / f"{oop[0]}.json").stat().st_mtime_ns
    _ok(["ssl", "pair", data, "--splits", sj, "-o", out, "--iterations", "60"])  # resumable: done cases skipped
    assert (out / "pairs" / f"{oop[0]}.json").stat().st_mtime_ns == stamp

    for c in oop:  # preprocessing caches every scan of the catalog, with its label: restore the files
        write_image(truth[c], read_image(data / man.loc[c, "image"])[1], data / man.loc[c, "label"])
    _ok(["preprocess", out / "catalog.csv", "--splits", sj, "-o", tmp_path / "plan", "--cases", "split"])
    run = tmp_path / "run"
    _ok(["train", tmp_path / "plan", "-o", run, "--method", "paired-sequence", "--steps", "3", "--patch",
         "16,32,32", "--hp", "rampup_steps=0", "--hp", "quality_weights=true", "--threads", "1"])
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all("pair" in r and np.isfinite(r["loss"]) for r in rows)
    for c in oop:  # the weights reached the cache, the batches' source
        meta = json.loads((tmp_path / "plan" / "cache" / f"{c}.json").read_text())
        assert meta["scalars"]["pseudo_weight"] == pytest.approx(pairs.loc[c, "weight"], abs=1e-4)
        assert (tmp_path / "plan" / "cache" / f"{c}_pseudo_label.npy").is_file()
    weights = set(pairs["weight"].round(4))
    assert all(any(abs(r["pair_w"] - (a + b) / 2) < 1e-3 for a in weights for b in weights) for r in rows)
    # a plan without pseudo-labels: a clear error that names the pairing command
    _ok(["preprocess", data, "--splits", sj, "-o", tmp_path / "plan0", "--cases", "split"])
    res = runner.invoke(app, ["train", str(tmp_path / "plan0"), "-o", str(tmp_path / "run0"), "--method",
                              "paired-sequence", "--steps", "1", "--patch", "16,32,32", "--threads", "1"])
    assert res.exit_code == 2 and "ssl pair" in res.output
