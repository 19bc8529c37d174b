"""The nnUNetDG methods crosspan lacked (RSC, EQRM, IB-ERM, SD, prompt U-Net): each mechanism acts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import brentq
from scipy.stats import norm

from crosspan.methods import get_method
from crosspan.methods.common import split_outputs
from crosspan.methods.dg.eqrm import kde_bandwidth, kde_quantile, risk_quantile
from crosspan.methods.dg.head_features import capture_head
from crosspan.models import build_network, network_config
from tests.methods.dg.test_augment import make_batch
from tests.methods.dg.test_groups import hard_batch

DOMAINS = ["A:T1", "B:T1", "C:T1"]


def net(in_channels: int = 1) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_network(network_config("tiny", [16, 16, 16], [1.0, 1.0, 1.0]), in_channels=in_channels)


# ----- RSC -----
@pytest.mark.parametrize("spatial", [0.0, 1.0])
def test_rsc_mutes_top_gradient_features_in_the_loss(spatial: float) -> None:
    m = get_method("rsc")(net(), DOMAINS, {"spatial_prob": spatial, "batch_drop": 1.0})
    m.setup_training(5)
    batch = make_batch(b=2, domains=[0, 1])
    loss, info = m.objective(batch)
    mask, grad, feats = info["mask"], info["grad"], info["features"]
    # batch_drop=1: every sample is challenged; the muted features are exactly the top third by gradient score
    dims = tuple(range(2, grad.ndim))
    score = grad.mean(1, keepdim=True) if spatial else grad.mean(dims, keepdim=True)
    assert mask.shape == score.shape
    for s in range(2):
        sc, kept = score[s].flatten(), mask[s].flatten().bool()
        n_muted = int((~kept).sum())
        assert 0 < n_muted < sc.numel() and abs(n_muted / sc.numel() - 1 / 3) < 0.1
        assert float(sc[~kept].min()) >= float(sc[kept].max())  # every muted feature outranks every kept one
    # the loss is the one of the muted forward pass, and differs from the unmuted one
    with torch.no_grad():
        muted = m.head(feats * mask)
        out = m.network(batch["image"])
        outs = split_outputs(out, 5)
        assert torch.allclose(m.head(feats), outs[0], atol=1e-5)  # the head re-run reproduces the network
        expected = m.supervised_loss([muted, *outs[1:]], batch["label"])
    assert abs(float(loss.detach()) - float(expected)) < 1e-5
    assert abs(float(loss.detach()) - float(info["unmuted_loss"])) > 1e-4
    logs = m.update(batch)
    assert logs["loss"] != logs["loss_unmuted"] and logs["muted_fraction"] > 0


def test_rsc_batch_percentage_spares_samples() -> None:
    m = get_method("rsc")(net(), DOMAINS, {"spatial_prob": 0.0, "batch_drop": 1 / 3})
    batch = make_batch(b=3, domains=[0, 1, 2])
    batch["image"][2] = -batch["image"][2]
    _, info = m.objective(batch)
    whole = [bool(info["mask"][s].all()) for s in range(3)]
    assert sum(whole) == 2  # only the third of the batch with the largest confidence drop is challenged


# ----- EQRM -----
def test_eqrm_objective_is_the_quantile_of_domain_risks() -> None:
    m = get_method("eqrm")(net(), DOMAINS, {"burnin_steps": 0, "quantile": 0.75})
    batch = hard_batch(0)
    with torch.no_grad():
        out = m.network(batch["image"])
        risks = np.array([float(m.supervised_loss(out[batch["domain"] == d], batch["label"][batch["domain"] == d]))
                          for d in range(3)])
    loss, got = m.objective(batch)
    assert np.allclose(got.detach().numpy(), risks, atol=1e-5) and risks.std() > 1e-3
    h = 1.06 * risks.std(ddof=1) * 3 ** -0.2
    by_hand = brentq(lambda q: norm.cdf((q - risks) / h).mean() - 0.75, risks.min() - 10 * h, risks.max() + 10 * h)
    assert abs(float(loss.detach()) - by_hand) < 1e-4
    assert float(loss.detach()) > np.median(risks)  # the 0.75 quantile leans to the worst domain
    m.hparams["kde"] = False
    loss_emp, _ = m.objective(batch)
    assert abs(float(loss_emp.detach()) - np.quantile(risks, 0.75)) < 1e-5


def test_eqrm_kde_gradient_and_burnin() -> None:
    r = torch.tensor([0.2, 0.5, 1.1], requires_grad=True)
    q = kde_quantile(r, 0.9)
    q.backward()
    assert torch.allclose(r.grad.sum(), torch.tensor(1.0), atol=1e-5) and int(r.grad.argmax()) == 2
    assert float(kde_bandwidth(torch.tensor([0.3, 0.3]))) > 0
    assert float(risk_quantile(torch.tensor([0.4]), 0.75)) == pytest.approx(0.4)
    m = get_method("eqrm")(net(), DOMAINS, {"burnin_steps": 1})
    m.setup_training(3)
    batch = hard_batch(1)
    loss, risks = m.objective(batch)
    assert float(loss.detach()) == pytest.approx(float(risks.mean().detach()), abs=1e-6)  # ERM during burn-in
    m.update(batch)
    loss, risks = m.objective(batch)
    assert float(loss.detach()) > float(risks.mean())
    assert int(m.state_dict()["steps"]) == 1


# ----- IB-ERM -----
def test_ib_erm_penalty_is_feature_variance_and_lowers_it() -> None:
    batch = make_batch(b=4, domains=[0, 0, 1, 1])
    m = get_method("ib-erm")(net(), DOMAINS, {"warmup_steps": 0, "penalty": 100.0})
    loss, info = m.objective(batch)
    f = info["features"]
    by_hand = np.mean([f[2 * d:2 * d + 2].transpose(0, 1).flatten(1).var(1, unbiased=False).mean().item()
                       for d in range(2)])
    assert abs(float(info["penalty"]) - by_hand) < 1e-5 and by_hand > 1e-3
    assert abs(float(loss.detach()) - (float(info["risk"]) + 100.0 * by_hand)) < 1e-3

    def variance_after(penalty: float) -> float:
        meth = get_method("ib-erm")(net(), DOMAINS, {"warmup_steps": 0, "penalty": penalty, "optimizer": "adamw",
                                                     "lr": 1e-3})
        meth.setup_training(20)
        for _ in range(8):
            meth.update(batch)
        return float(meth.objective(batch)[1]["penalty"])

    assert variance_after(100.0) < 0.7 * variance_after(0.0)


def test_ib_erm_warmup() -> None:
    m = get_method("ib-erm")(net(), DOMAINS, {"warmup_steps": 1})
    m.setup_training(3)
    assert m.update(make_batch())["penalty_weight"] == 0.0
    assert m.update(make_batch())["penalty_weight"] == m.hparams["penalty"] == 0.1


def test_a_burn_in_no_shorter_than_the_run_is_named() -> None:
    """EQRM / IB-ERM whose burn-in or warm-up outlasts the run train plain ERM: the registry says so."""
    from crosspan.methods.base import resolve_hparams

    eqrm, ib, erm = (get_method(n) for n in ("eqrm", "ib-erm", "erm"))
    assert "burnin_steps=2500 >= the run's 2000 steps" in (eqrm.dormant_reason(resolve_hparams(eqrm, {}), 2000) or "")
    assert eqrm.dormant_reason(resolve_hparams(eqrm, {}), 2501) is None
    assert eqrm.dormant_reason(resolve_hparams(eqrm, {"burnin_steps": 100}), 2000) is None
    assert "warmup_steps=500" in (ib.dormant_reason(resolve_hparams(ib, {}), 500) or "")
    assert erm.dormant_reason(resolve_hparams(erm, {}), 1) is None


# ----- SD -----
def test_sd_penalty_is_logit_l2() -> None:
    batch = make_batch(b=2)
    m = get_method("sd")(net(), DOMAINS)
    loss, info = m.objective(batch)
    with torch.no_grad():
        logits = split_outputs(m.network(batch["image"]), 5)[0]
    assert abs(float(info["penalty"]) - float((logits ** 2).mean())) < 1e-6
    assert abs(float(loss.detach()) - (float(info["seg"]) + 0.1 * float(info["penalty"]))) < 1e-6

    def logit_l2_after(penalty: float) -> float:
        meth = get_method("sd")(net(), DOMAINS, {"penalty": penalty, "optimizer": "adamw", "lr": 1e-3})
        meth.setup_training(20)
        for _ in range(8):
            meth.update(batch)
        return float(meth.objective(batch)[1]["penalty"])

    assert logit_l2_after(10.0) < logit_l2_after(0.0)


def test_head_capture_is_the_head_input() -> None:
    m = get_method("sd")(net(), DOMAINS)
    from crosspan.methods.dg.head_features import find_head

    head = find_head(m.network)
    x = make_batch(b=1)["image"]
    with torch.no_grad(), capture_head(head) as cap:
        y = m.network(x)
    assert cap.features is not None and torch.allclose(head(cap.features), y, atol=1e-6)


# ----- prompt U-Net -----
def test_prompt_channels_box_and_point() -> None:
    from crosspan.methods.prompt_unet import prompt_channels

    lab = torch.zeros(2, 1, 12, 12, 12, dtype=torch.long)
    lab[0, 0, 2:6, 3:9, 4:7] = 1
    p = prompt_channels(lab, radius=1)
    box = p[0, 0].bool()
    assert box.sum() == 4 * 6 * 3 and bool(box[2:6, 3:9, 4:7].all())  # the tight 3D box
    point = p[0, 1].bool()
    assert 1 < int(point.sum()) <= 7 and bool((point & lab[0, 0].bool()).any())  # a ball on the foreground
    assert float(p[1].abs().sum()) == 0  # an empty label gives no prompt
    jit = prompt_channels(lab, jitter=0.3, radius=1, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(jit[0, 0], p[0, 0])


def test_prompt_unet_prompts_change_the_output_and_oracle_is_declared() -> None:
    cls = get_method("prompt-unet")
    m = cls(net(), DOMAINS)
    convs = [c for c in m.network.modules() if isinstance(c, torch.nn.Conv3d) and c.in_channels == 3]
    assert convs and not any(isinstance(c, torch.nn.Conv3d) and c.in_channels == 1 for c in m.network.modules())
    batch = make_batch(b=2)
    m.setup_training(3)
    logs = m.update(batch)
    assert np.isfinite(logs["loss"])
    m.eval()
    x = batch["image"][:1]
    prompts = torch.from_numpy(m.test_prompts(batch["label"][0, 0].numpy()))[None]
    assert prompts.shape == (1, 2, 16, 16, 16) and float(prompts[0, 0].sum()) > 0
    with_p, without = m.predict(torch.cat([x, prompts], 1)), m.predict(x)
    assert float((with_p - without).abs().max()) > 1e-3  # the prompt channels reach the output
    assert torch.allclose(without, m.predict(torch.cat([x, torch.zeros_like(prompts)], 1)))
    # prompts from labels are oracle; empty prompts are not
    assert cls.uses_oracle(m.hparams) and cls.uses_oracle({"prompt": "jittered-box"})
    assert not cls.uses_oracle({"prompt": "none"}) and not get_method("erm").uses_oracle({})
    none = cls(net(), DOMAINS, {"prompt": "none"})
    assert float(np.abs(none.test_prompts(batch["label"][0, 0].numpy())).sum()) == 0
    with pytest.raises(Exception, match="prompt source"):
        cls(net(), DOMAINS, {"prompt": "model-box"})


def test_benchmark_marks_prompt_unet_results_oracle(tmp_path) -> None:
    import yaml

    from crosspan.bench.jobs import build_plan
    from crosspan.bench.spec import load_spec

    spec = {"name": "pu", "output": ".", "dataset": {"path": str(tmp_path / "catalog.csv")},
            "protocols": [{"name": "xseq", "protocol": "cross-sequence", "train": ["A:T1"]}],
            "methods": [{"name": "pu-oracle", "method": "prompt-unet"},
                        {"name": "pu-none", "method": "prompt-unet", "hp": {"prompt": "none", "p_no_prompt": 0.5}},
                        {"name": "erm", "method": "erm"}, {"name": "lms", "method": "litemedsam", "zero_shot": True}],
            "seeds": [0]}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    (tmp_path / "catalog.csv").write_text("case_id\n")
    jobs = {j.info["method"]: j for j in build_plan(load_spec(path)).method_jobs}
    evaluate = {m: list(next(s.args for s in j.steps if s.name == "evaluate")) for m, j in jobs.items()}
    assert "--oracle" in evaluate["pu-oracle"] and "--oracle" in evaluate["lms"]
    assert "--oracle" not in evaluate["pu-none"] and "--oracle" not in evaluate["erm"]


def test_predict_cli_builds_prompts_from_labels_and_marks_them(tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from crosspan.cli.main import app
    from toy_scans import toy_dataset

    runner = CliRunner()
    cat = toy_dataset(tmp_path / "data", n=4, shape=(16, 24, 24), splits=("train", "train", "val", "test"))
    res = runner.invoke(app, ["preprocess", str(cat), "-o", str(tmp_path / "plan"), "--train-domains", "A:T1,B:T1"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["train", str(tmp_path / "plan"), "-o", str(tmp_path / "run"), "--method",
                              "prompt-unet", "--steps", "2", "--patch", "16,16,16", "--threads", "1"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["predict", str(tmp_path / "run"), str(cat), "-o", str(tmp_path / "pred")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "pred" / "case3.nii.gz").is_file()
    info = json.loads((tmp_path / "pred" / "prompts.json").read_text())
    assert info["oracle"] is True and info["prompt"] == "oracle-box" and info["cases"] == 1
    # a bare image has no label to build the oracle prompt from: one line, nothing written
    res = runner.invoke(app, ["predict", str(tmp_path / "run"), str(tmp_path / "data" / "case3.nii.gz"), "-o",
                              str(tmp_path / "bare")])
    assert res.exit_code != 0 and "prompt 'oracle-box'" in res.output and not (tmp_path / "bare").exists()


@pytest.mark.parametrize(("name", "key", "bad"), [("rsc", "feature_drop", 1.0), ("rsc", "batch_drop", -0.1),
                                                  ("eqrm", "quantile", 1.5), ("ib-erm", "penalty", -1.0),
                                                  ("sd", "penalty", -0.5), ("prompt-unet", "p_no_prompt", 2.0)])
def test_hyperparameter_bounds(name: str, key: str, bad: float) -> None:
    from crosspan.core.errors import CrosspanError
    from crosspan.methods.base import resolve_hparams

    cls = get_method(name)
    assert resolve_hparams(cls, {key: cls.default_hparams[key]})[key] == cls.default_hparams[key]
    with pytest.raises(CrosspanError, match=key):
        resolve_hparams(cls, {key: bad})
