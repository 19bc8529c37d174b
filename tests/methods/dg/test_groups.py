"""GroupDRO and V-REx over the true domains: weights rise for the hardest domain; the penalty is the variance."""

from __future__ import annotations

import torch

from crosspan.methods import get_method
from tests.methods.dg.test_augment import make_batch, tiny_net


def hard_batch(seed: int) -> dict:
    """Domains 0, 1, 2; domain 2's labels are sparse random voxels (inconsistent with the image, highest loss)."""
    b = make_batch(b=6, seed=seed, domains=[0, 0, 1, 1, 2, 2])
    g = torch.Generator().manual_seed(seed + 100)
    b["label"][4:] = (torch.rand(b["label"][4:].shape, generator=g) < 0.02).long()
    return b


def test_groupdro_weight_rises_for_hardest_domain() -> None:
    m = get_method("groupdro")(tiny_net(), ["A:T1", "B:T1", "C:T1"], {"eta": 0.5})
    m.setup_training(20)
    assert torch.allclose(m.q, torch.full((3,), 1 / 3))
    for s in range(5):
        logs = m.update(hard_batch(s))
    assert m.q.argmax() == 2 and m.q[2] > 1 / 3 + 0.01
    assert abs(float(m.q.sum()) - 1) < 1e-6
    assert logs["q/C:T1"] == float(m.q[2])
    assert "q" in m.state_dict()  # saved with the weights


def test_groupdro_absent_domain_keeps_relative_weight() -> None:
    m = get_method("groupdro")(tiny_net(), ["A:T1", "B:T1", "C:T1"], {"eta": 0.5})
    m.setup_training(5)
    m.update(make_batch(b=2, domains=[0, 1]))
    assert m.q[2] < m.q[0] and m.q[2] < m.q[1]  # domain 2 absent: not up-weighted


def test_vrex_penalty_is_variance_of_domain_losses() -> None:
    m = get_method("vrex")(tiny_net(), ["A:T1", "B:T1", "C:T1"], {"warmup_steps": 1})
    m.setup_training(5)
    batch = hard_batch(0)
    with torch.no_grad():
        out = m.network(batch["image"])
        by_hand = torch.stack([m.supervised_loss(out[batch["domain"] == d], batch["label"][batch["domain"] == d])
                               for d in range(3)])
    expected = float(((by_hand - by_hand.mean()) ** 2).mean())
    logs = m.update(batch)
    assert abs(logs["penalty"] - expected) < 1e-5 * max(1.0, expected)
    assert expected > 1e-4
    assert abs(logs["loss"] - (float(by_hand.mean()) + 1.0 * expected)) < 1e-4  # penalty_pre before warm-up
    assert logs["penalty_weight"] == 1.0
    assert m.update(hard_batch(1))["penalty_weight"] == 10.0  # after warm-up
    assert int(m.state_dict()["steps"]) == 2


def test_vrex_single_domain_has_no_penalty() -> None:
    m = get_method("vrex")(tiny_net(), ["A:T1", "B:T1"])
    m.setup_training(5)
    assert m.update(make_batch(b=2, domains=[1, 1]))["penalty"] == 0.0
