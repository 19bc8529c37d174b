"""FixMatch mechanisms: views stay aligned, low-confidence voxels are masked, the unlabeled term drives the
gradient only where pseudo-labels are confident."""

from __future__ import annotations

import torch

from crosspan.methods.ssl.fixmatch import masked_ce, strong_view, weak_view
from tests.methods.dg.test_augment import make_batch
from tests.methods.ssl.test_mean_teacher import build, grads, same, unlabeled_batch


def test_masked_ce_values() -> None:
    probs = torch.tensor([0.99, 0.6, 0.02, 0.5]).reshape(1, 1, 4, 1, 1)
    probs = torch.cat([1 - probs, probs], 1)  # (1, 2, 4, 1, 1)
    logit = torch.randn(1, 2, 4, 1, 1)
    loss, kept = masked_ce(logit, probs, 0.95)
    ce = torch.nn.functional.cross_entropy(logit, probs.argmax(1), reduction="none").flatten()
    assert kept == 0.5 and torch.isclose(loss, (ce[0] + ce[2]) / 4)
    loss1, kept1 = masked_ce(logit, probs, 1.0)
    assert kept1 == 0 and loss1 == 0


def test_views() -> None:
    torch.manual_seed(0)
    x = make_batch(b=4)["image"]
    w = weak_view(x)
    for i in range(4):  # each sample is x up to flips
        assert any(torch.equal(w[i], x[i].flip(dims)) if dims else torch.equal(w[i], x[i])
                   for dims in [(), (1,), (2,), (3,), (1, 2), (1, 3), (2, 3), (1, 2, 3)])
    s = strong_view(w, 1.0, 1.0, 5, 0.0)  # full inversion, no noise: the intensity order flips, geometry stays
    assert torch.corrcoef(torch.stack([s.flatten(), w.flatten()]))[0, 1] < -0.9


def test_threshold_one_gives_zero_unsupervised_loss_and_gradient() -> None:
    lab, unl = make_batch(b=2), unlabeled_batch()
    m = build("fixmatch", {"threshold": 1.0})
    torch.manual_seed(1)
    _, logs = m.loss(lab, unl)
    assert logs["mask"] == 0.0 and logs["unsup"] == 0.0
    assert same(grads(m, lab, unl), grads(m, lab, None))
    m2 = build("fixmatch", {"threshold": 0.0})
    torch.manual_seed(1)
    _, logs2 = m2.loss(lab, unl)
    assert logs2["mask"] == 1.0 and logs2["unsup"] > 0
    assert not same(grads(m2, lab, unl), grads(m2, lab, None))
