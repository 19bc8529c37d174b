"""Dual-Normalization: norms replaced by two branches, each trained on its view; at test one branch a volume, the
more confident one (``select=confidence``) or the one with the nearest statistics (``select=style``)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from crosspan.methods import get_method
from crosspan.methods.dg.dualnorm import DualNorm
from tests.methods.dg.test_augment import make_batch, tiny_net


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_surgery_and_branch_training(norm: str) -> None:
    m = get_method("dualnorm")(tiny_net(), ["A:T1"], {"norm": norm})
    assert m.dual_norms and all(isinstance(d, DualNorm) for d in m.dual_norms)
    assert not any(isinstance(x, torch.nn.InstanceNorm3d) for x in m.network.modules())
    m.setup_training(5)
    before = m.dual_norms[0].style_mean.clone()
    logs = m.update(make_batch())
    assert torch.isfinite(torch.tensor(logs["loss"]))
    after = m.dual_norms[0].style_mean
    assert not torch.equal(before[0], after[0]) and not torch.equal(before[1], after[1])  # both branches saw data
    assert any(k.endswith("style_mean") for k in m.state_dict())


def test_picks_nearest_branch() -> None:
    m = get_method("dualnorm")(tiny_net(), ["A:T1"], {"norm": "instance", "select": "style"})
    m.eval()
    x = make_batch(b=2)["image"]
    a, b = x[:1], -3.0 * x[1:] + 2.0  # a source-like image and an inverted, rescaled one
    first = m.dual_norms[0]
    for img, branch in ((a, 0), (b, 1)):  # give each branch the statistics of one image
        first.capture = True
        m.set_branch(branch)
        m.network(img)
        first.capture = False
        mu, sd = first.captured
        first.style_mean[branch] = mu[0]
        first.style_std[branch] = sd[0]
    m.set_branch(0)
    assert m.select_branch(torch.cat([a, b])).tolist() == [0, 1]
    assert m.select_branch(torch.cat([b, a, a])).tolist() == [1, 0, 0]
    probs = m.predict(torch.cat([b, a]))
    m.set_branch(1)
    ref_b = torch.softmax(m.network(b), 1)
    m.set_branch(0)
    ref_a = torch.softmax(m.network(a), 1)
    assert torch.allclose(probs[0:1], ref_b, atol=1e-6) and torch.allclose(probs[1:2], ref_a, atol=1e-6)
    # swapping the branch statistics swaps the choice
    first.style_mean.copy_(first.style_mean.flip(0))
    first.style_std.copy_(first.style_std.flip(0))
    assert m.select_branch(torch.cat([a, b])).tolist() == [1, 0]


def test_branch_is_chosen_per_volume_not_per_tile() -> None:
    """A volume whose left half looks like branch 0's source and right half like branch 1's: choosing per tile
    would mix branches; the sliding window runs every tile of the volume through the one branch the whole
    volume's statistics pick."""
    from crosspan.methods.sliding import predict_volume

    m = get_method("dualnorm")(tiny_net(), ["A:T1"], {"norm": "instance", "select": "style", "select_layers": 1})
    m.eval()
    x = make_batch(b=1)["image"]
    a, b = x, -3.0 * x + 2.0
    first = m.dual_norms[0]
    for img, branch in ((a, 0), (b, 1)):
        first.capture = True
        m.set_branch(branch)
        m.network(img)
        first.capture = False
        first.style_mean[branch], first.style_std[branch] = first.captured[0][0], first.captured[1][0]
    m.set_branch(0)
    vol = torch.cat([a, b], dim=-1)  # (1, 1, 16, 16, 32): two 16^3 tiles with different styles
    assert m.select_branch(torch.cat([a, b])).tolist() == [0, 1]  # per tile, the branches would differ
    whole = m.volume_choice(vol, (16, 16, 16))
    grid = torch.cat([vol[..., 0:16], vol[..., 8:24], vol[..., 16:32]])  # the half-overlapping tiles
    assert whole == int(m.branch_distances(grid).sum(0).argmin())
    used: list[int] = []
    last = m.dual_norms[-1]
    last.register_forward_hook(lambda mod, i, o: used.extend([mod.branch] * o.shape[0]))
    predict_volume(m, vol[0, 0].numpy(), [16, 16, 16], overlap=0.5)
    assert len(used) >= 3 and set(used) == {whole}  # every tile (of several) ran through the volume's branch
    assert m.volume_branch is None  # the choice ends with the volume
    used.clear()
    with m.volume(vol):
        m.predict(a), m.predict(b)
    assert set(used) == {whole}


def test_first_norm_layer_is_blind_to_inversion() -> None:
    """Why ``select_layers`` defaults to all layers: the first norm layer's input is the same for both branches
    and, for a z-scored image, its channel stds are identical under an intensity inversion."""
    m = get_method("dualnorm")(tiny_net(), ["A:T1"], {"norm": "instance"})
    m.eval()
    x = make_batch(b=1)["image"]
    first = m.dual_norms[0]
    stats = []
    for img in (x, -x):
        first.capture = True
        m.network(img)
        first.capture = False
        stats.append(first.captured)
    assert torch.allclose(stats[0][1], stats[1][1], atol=1e-5)  # stds equal: inversion invisible
    deeper = m.dual_norms[1]
    outs = []
    for img in (x, -x):
        deeper.capture = True
        m.network(img)
        deeper.capture = False
        outs.append(deeper.captured[1])
    assert not torch.allclose(outs[0], outs[1], atol=1e-3)  # after a nonlinearity it is visible


def constant_logits_method(fg0: float, fg1: float) -> Any:
    """A Dual-Norm whose network outputs, everywhere, logits (0, ``fg0``) through branch 0 and (0, ``fg1``) through
    branch 1: a 1x1 conv and one norm layer whose weight is 0, so its output is the branch's bias."""
    net = torch.nn.Sequential(torch.nn.Conv3d(1, 2, 1), torch.nn.InstanceNorm3d(2, affine=True))
    m = get_method("dualnorm")(net, ["A:T1"], {"norm": "instance"})
    (dn,) = m.dual_norms
    with torch.no_grad():
        dn.weight.zero_()
        dn.bias.copy_(torch.tensor([[0.0, fg0], [0.0, fg1]]))
    return m.eval()


def test_confidence_picks_the_branch_whose_foreground_is_more_certain() -> None:
    from crosspan.methods.sliding import predict_volume

    x = make_batch(b=1)["image"]
    m = constant_logits_method(0.2, 5.0)  # both label everything foreground; branch 1 at p = 0.99, branch 0 at 0.55
    assert m.select_branch(x).tolist() == [1]
    assert m.volume_choice(x, (16, 16, 16)) == 1
    probs = predict_volume(m, x[0, 0].numpy(), [16, 16, 16])
    assert abs(float(probs[1].mean()) - float(torch.sigmoid(torch.tensor(5.0)))) < 1e-4  # branch 1 ran every tile
    m = constant_logits_method(5.0, 0.2)  # swapped: the choice follows
    assert m.volume_choice(x, (16, 16, 16)) == 0


def test_confidence_never_prefers_a_branch_that_finds_no_foreground() -> None:
    """An empty prediction is certain (p(background) ~ 1) but finds nothing: it ranks last."""
    x = make_batch(b=1)["image"]
    m = constant_logits_method(0.2, -8.0)  # branch 1: confident background everywhere
    assert m.volume_choice(x, (16, 16, 16)) == 0 and m.select_branch(x).tolist() == [0]
    m = constant_logits_method(-8.0, 0.2)
    assert m.volume_choice(x, (16, 16, 16)) == 1


def test_unknown_branch_rule_is_refused() -> None:
    from crosspan.core.errors import CrosspanError

    with pytest.raises(CrosspanError, match=r"select=confidence\|style"):
        get_method("dualnorm")(tiny_net(), ["A:T1"], {"select": "mean"})
