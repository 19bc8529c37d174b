"""Network presets, nnU-Net kernel/stride rule, method registry and hyperparameter overrides."""

from __future__ import annotations

import pytest
import torch

from crosspan.core.errors import CrosspanError
from crosspan.methods.base import get_method, method_names, resolve_hparams
from crosspan.methods.common import ds_weights
from crosspan.models import NETWORKS, build_network, kernels_strides, network_config


def test_kernels_strides_follow_spacing() -> None:
    k, s = kernels_strides([32, 128, 128], [4.0, 0.75, 0.75])
    # the coarse z axis (4x the in-plane spacing) is not downsampled until the in-plane spacing catches up
    assert s[0] == [1, 1, 1] and s[1] == [1, 2, 2] and s[2] == [1, 2, 2]
    assert s[3] == [2, 2, 2]
    assert k[0] == [1, 3, 3] and k[-1] == [3, 3, 3]


@pytest.mark.parametrize("name", NETWORKS)
def test_every_network_builds_and_runs(name: str) -> None:
    size = 64 if name == "swinunetr" else 32
    net = build_network(network_config(name, [size] * 3, [1.0, 1.0, 1.0])).eval()
    with torch.no_grad():
        out = net(torch.randn(1, 1, size, size, size))
    assert out.shape[-4:] == (2, size, size, size)
    assert torch.isfinite(out).all()


def test_nnunet_preset_has_deep_supervision() -> None:
    cfg = network_config("nnunet", [32, 32, 32], [1.0, 1.0, 1.0])
    net = build_network(cfg).train()
    out = net(torch.randn(1, 1, 32, 32, 32))
    assert out.ndim == 6 and out.shape[1] == 1 + cfg["deep_supr_num"]
    assert ds_weights(3) == pytest.approx([4 / 7, 2 / 7, 1 / 7])


def test_unknown_network_is_an_error() -> None:
    with pytest.raises(CrosspanError, match="unknown network"):
        network_config("resnet9000", [32] * 3, [1.0] * 3)


def test_registry_and_hparam_overrides() -> None:
    assert "erm" in method_names()
    cls = get_method("erm")
    hp = resolve_hparams(cls, {"lr": "0.001", "optimizer": "adamw"})
    assert hp["lr"] == 0.001 and hp["optimizer"] == "adamw" and hp["momentum"] == 0.99
    with pytest.raises(CrosspanError, match="no hyperparameter 'lerning_rate'"):
        resolve_hparams(cls, {"lerning_rate": 1})
    with pytest.raises(CrosspanError, match="unknown method"):
        get_method("nope")


def test_erm_update_decreases_loss_on_a_fixed_batch() -> None:
    torch.manual_seed(0)
    net = build_network(network_config("tiny", [16] * 3, [1.0] * 3))
    m = get_method("erm")(net, ["A:T1"], {"optimizer": "adamw", "lr": 1e-2})
    m.setup_training(50)
    img = torch.randn(2, 1, 16, 16, 16)
    lab = (img > 0.5).long()
    first = m.update({"image": img, "label": lab, "domain": torch.zeros(2, dtype=torch.long)})["loss"]
    for _ in range(15):
        last = m.update({"image": img, "label": lab, "domain": torch.zeros(2, dtype=torch.long)})["loss"]
    assert last < 0.7 * first
    assert "optimizer" in m.training_state() and "scheduler" in m.training_state()


def test_erm_step_with_bf16_autocast_on_cpu() -> None:
    torch.manual_seed(0)
    net = build_network(network_config("tiny", [16] * 3, [1.0] * 3))
    m = get_method("erm")(net, ["A:T1"], {})
    m.setup_training(10, amp="bf16")
    before = [p.detach().clone() for p in m.parameters()]
    img = torch.randn(2, 1, 16, 16, 16)
    logs = m.update({"image": img, "label": (img > 0).long(), "domain": torch.zeros(2, dtype=torch.long)})
    assert torch.isfinite(torch.tensor(logs["loss"]))
    assert any(not torch.equal(a, b) for a, b in zip(before, m.parameters(), strict=True))
    assert all(p.dtype == torch.float32 for p in m.parameters())
