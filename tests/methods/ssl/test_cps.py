"""CPS mechanisms: two different networks; each is trained on the other's hard pseudo-labels; predict averages."""

from __future__ import annotations

import torch

from crosspan.methods.ssl.cps import cross_pseudo_loss
from tests.methods.dg.test_augment import make_batch
from tests.methods.ssl.test_mean_teacher import build, unlabeled_batch


def test_networks_differ_and_are_both_trained() -> None:
    m = build("cps")
    p1, p2 = list(m.network.parameters()), list(m.network2.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(p1, p2, strict=True))
    assert {id(p) for p in p2} <= {id(p) for g in m.optimizer.param_groups for p in g["params"]}
    before = [p.detach().clone() for p in p2]
    logs = m.update(make_batch(b=2), unlabeled_batch())
    assert all(torch.isfinite(torch.tensor(v)) for v in logs.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, m.network2.parameters(), strict=True))


def test_each_network_learns_from_the_others_pseudo_labels() -> None:
    a = torch.randn(2, 2, 4, 4, 4, requires_grad=True)
    b = torch.randn(2, 2, 4, 4, 4, requires_grad=True)
    loss = cross_pseudo_loss(a, b)
    expected = (torch.nn.functional.cross_entropy(a, b.argmax(1)) + torch.nn.functional.cross_entropy(b, a.argmax(1)))
    assert torch.isclose(loss, expected)
    loss.backward()
    # a's gradient is exactly that of CE(a, argmax b): no gradient flows through the pseudo-labels
    a2 = a.detach().clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(a2, b.detach().argmax(1)).backward()
    assert torch.allclose(a.grad, a2.grad)
    # agreeing networks with confident outputs give (near) zero cross loss
    c = torch.zeros(1, 2, 2, 2, 2)
    c[:, 1] = 50.0
    assert cross_pseudo_loss(c, c.clone()) < 1e-6


def test_unlabeled_batch_changes_the_cross_term_and_predict_averages() -> None:
    lab, unl = make_batch(b=2), unlabeled_batch()
    m = build("cps", {"rampup_steps": 0})
    _, with_u = m.loss(lab, unl)
    _, without = m.loss(lab, None)
    assert abs(with_u["sup"] - without["sup"]) < 1e-5
    assert with_u["cps"] != without["cps"]
    m.eval()
    x = make_batch(b=2, seed=5)["image"]
    with torch.no_grad():
        avg = (torch.softmax(m.network(x), 1) + torch.softmax(m.network2(x), 1)) / 2
    assert torch.allclose(m.predict(x), avg, atol=1e-6)
