"""MixStyle and DSU: they act in training mode only, on the early blocks, and leave eval outputs unchanged."""

from __future__ import annotations

import copy

import pytest
import torch

from crosspan.methods import get_method
from crosspan.methods.dg.feature_stats import find_early_blocks
from crosspan.models import build_network, network_config
from tests.methods.dg.test_augment import make_batch, tiny_net


def dynunet() -> torch.nn.Module:
    """A small DynUNet (the ``nnunet`` preset's architecture) with 4-16 channels."""
    from monai.networks.nets import DynUNet

    torch.manual_seed(0)
    return DynUNet(3, 1, 2, [[3, 3, 3]] * 3, [[1, 1, 1], [2, 2, 2], [2, 2, 2]], [[2, 2, 2], [2, 2, 2]],
                   filters=[4, 8, 16], norm_name="instance", res_block=False)


def tiny_preset() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_network(network_config("tiny", [16, 16, 16], [1.0, 1.0, 1.0]))


def test_find_early_blocks_per_architecture() -> None:
    assert [n for n, _ in find_early_blocks(dynunet(), 2)] == ["input_block", "downsamples.0"]
    assert [n for n, _ in find_early_blocks(tiny_net(), 2)] == ["model.0"]  # 2-level UNet: one encoder block
    assert [n for n, _ in find_early_blocks(tiny_preset(), 2)] == ["model.0", "model.1.submodule.0"]
    seq = torch.nn.Sequential(torch.nn.Conv3d(1, 4, 3), torch.nn.Sequential(torch.nn.Conv3d(1, 4, 3),
                                                                            torch.nn.InstanceNorm3d(4)))
    assert [n for n, _ in find_early_blocks(seq, 2)] == ["1"]


@pytest.mark.parametrize("name", ["mixstyle", "dsu"])
@pytest.mark.parametrize("arch", ["dynunet", "unet", "tiny"])
def test_train_only_and_eval_unchanged(name: str, arch: str) -> None:
    net = {"dynunet": dynunet, "unet": tiny_net, "tiny": tiny_preset}[arch]()
    plain = copy.deepcopy(net)
    m = get_method(name)(net, ["A:T1", "B:T1"], {"p": 1.0})
    assert m.hooked
    x = make_batch(b=4)["image"]
    x = x * torch.tensor([1.0, 2.0, 0.5, 3.0]).reshape(4, 1, 1, 1, 1) + torch.arange(4.0).reshape(4, 1, 1, 1, 1)
    m.eval()
    plain.eval()
    assert torch.equal(m.network(x), plain(x))  # eval: identical outputs
    assert torch.allclose(m.predict(x), torch.softmax(plain(x), 1))
    m.train()
    plain.train()
    with torch.no_grad():  # no gradients (predict-like): no perturbation even in train mode
        assert torch.equal(m.network(x), plain(x))
    torch.manual_seed(3)
    out = m.network(x)
    assert (out - plain(x)).abs().max() > 1e-4  # training: features perturbed
    m.remove_hooks()
    assert torch.equal(m.network(x), plain(x))


def test_mixstyle_statistics_are_mixed() -> None:
    m = get_method("mixstyle")(dynunet(), ["A:T1", "B:T1"], {"p": 1.0, "alpha": 0.1})
    x = torch.randn(4, 3, 6, 6, 6) * torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(4, 1, 1, 1, 1)
    torch.manual_seed(0)
    y = m.perturb(x)
    mu_x, mu_y = x.mean((2, 3, 4)), y.mean((2, 3, 4))
    sd_x, sd_y = x.std((2, 3, 4)), y.std((2, 3, 4))
    # each sample's new mean/std lies between its own and some other sample's (convex mixing)
    lo, hi = torch.minimum(sd_x.min(0).values, sd_x), torch.maximum(sd_x.max(0).values, sd_x)
    assert ((sd_y >= lo * 0.95) & (sd_y <= hi * 1.05)).all()
    assert not torch.allclose(mu_x, mu_y, atol=1e-4) or not torch.allclose(sd_x, sd_y, atol=1e-3)


def test_mixstyle_crossdomain_pairs_other_domain() -> None:
    from crosspan.methods.dg.mixstyle import mix_permutation

    dom = torch.tensor([0, 0, 1, 1])
    for _ in range(10):
        perm = mix_permutation(4, dom, "crossdomain", torch.device("cpu"))
        assert (dom[perm] != dom).all()


def test_dsu_uses_batch_variance_of_statistics() -> None:
    m = get_method("dsu")(dynunet(), ["A:T1"], {"p": 1.0})
    x = torch.randn(1, 2, 6, 6, 6).repeat(4, 1, 1, 1, 1)  # identical samples: zero variance of statistics
    y = m.perturb(x)
    assert torch.allclose(y, x, atol=1e-2)
    x2 = x * torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(4, 1, 1, 1, 1)
    torch.manual_seed(0)
    assert (m.perturb(x2) - x2).abs().mean() > 0.1
