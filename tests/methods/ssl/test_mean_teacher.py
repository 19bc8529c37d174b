"""Mean Teacher mechanisms: the teacher is the EMA of the student; unlabeled data reach the gradient only through
the consistency term; the ramp-up and the teacher survive a state-dict round trip."""

from __future__ import annotations

import pytest
import torch

from crosspan.methods import get_method
from crosspan.methods.ssl.common import sigmoid_rampup
from crosspan.models import build_network, network_config
from tests.methods.dg.test_augment import make_batch

DOMAINS = ["A:T1", "B:T1"]


def tiny(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_network(network_config("tiny", [16, 16, 16], [1.0, 1.0, 1.0]))


def unlabeled_batch(seed: int = 7, invert: bool = True) -> dict:
    b = make_batch(b=2, seed=seed)
    img = -b["image"] if invert else b["image"]  # a "target sequence": contrast inverted
    return {"image": img, "domain": torch.tensor([-1, -1])}


def build(name: str, hp: dict | None = None, steps: int = 10):
    m = get_method(name)(tiny(), DOMAINS, hp)
    m.setup_training(steps)
    m.train()
    return m


def grads(m, labeled: dict, unlabeled: dict | None, seed: int = 3) -> list[torch.Tensor]:
    m.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    loss, _ = m.loss(labeled, unlabeled)
    loss.backward()
    return [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in m.network.parameters()]


def same(a: list[torch.Tensor], b: list[torch.Tensor], atol: float = 1e-6) -> bool:
    return all(torch.allclose(x, y, atol=atol, rtol=1e-4) for x, y in zip(a, b, strict=True))


def test_rampup_shape() -> None:
    assert sigmoid_rampup(0, 100) == pytest.approx(torch.exp(torch.tensor(-5.0)).item())
    assert sigmoid_rampup(50, 100) == pytest.approx(float(torch.exp(torch.tensor(-1.25))))
    assert sigmoid_rampup(100, 100) == 1.0 and sigmoid_rampup(500, 100) == 1.0 and sigmoid_rampup(3, 0) == 1.0


@pytest.mark.parametrize("name", ["mean-teacher", "ua-mt", "anatomy-invariant"])
def test_teacher_is_ema_of_student(name: str) -> None:
    m = build(name)
    # make the teacher differ from the student first, so the check is not trivially student == teacher
    with torch.no_grad():
        for p in m.teacher.parameters():
            p.add_(0.05 * torch.randn_like(p))
    t0 = [p.detach().clone() for p in m.teacher.parameters()]
    s0 = [p.detach().clone() for p in m.network.parameters()]
    m.update(make_batch(b=2), unlabeled_batch())
    s1 = [p.detach().clone() for p in m.network.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(s0, s1, strict=True))
    d = m.hparams["ema_decay"]
    for t, new_t, s in zip(t0, m.teacher.parameters(), s1, strict=True):
        assert torch.allclose(new_t, d * t + (1 - d) * s, atol=1e-7)
    assert all(not p.requires_grad for p in m.teacher.parameters())
    assert int(m.step_count) == 1


WEIGHTS = {"mean-teacher": ["cons_weight"], "ua-mt": ["cons_weight"], "anatomy-invariant": ["pl_weight",
                                                                                          "region_weight"]}


@pytest.mark.parametrize("name", list(WEIGHTS))
def test_unlabeled_gradient_only_through_consistency(name: str) -> None:
    lab, unl = make_batch(b=2), unlabeled_batch()
    off = build(name, {**{w: 0.0 for w in WEIGHTS[name]}, "rampup_steps": 0})
    assert same(grads(off, lab, unl), grads(off, lab, None))
    on = build(name, {**{w: 1.0 for w in WEIGHTS[name]}, "rampup_steps": 0,
                      **({"uncertainty_T": 2} if name == "ua-mt" else {})})
    if name == "ua-mt":  # accept every voxel so the consistency is active at this untrained stage
        on.hparams["threshold_start"] = on.hparams["threshold_end"] = 10.0
    assert not same(grads(on, lab, unl), grads(on, lab, None))


def test_mean_teacher_predict_and_state_roundtrip() -> None:
    m = build("mean-teacher", {"rampup_steps": 4})
    logs = m.update(make_batch(b=2), unlabeled_batch())
    assert all(torch.isfinite(torch.tensor(v)) for v in logs.values())
    assert logs["cons_w"] == pytest.approx(0.1 * sigmoid_rampup(0, 4))
    m.update(make_batch(b=2, seed=1), unlabeled_batch(seed=8))
    m.eval()
    x = make_batch(b=2, seed=5)["image"]
    with torch.no_grad():
        teacher = torch.softmax(m.teacher(x), 1)
        student = torch.softmax(m.network(x), 1)
    assert torch.allclose(m.predict(x), teacher, atol=1e-6) and not torch.allclose(teacher, student, atol=1e-6)
    fresh = get_method("mean-teacher")(tiny(seed=9), DOMAINS, {"rampup_steps": 4})
    fresh.load_state_dict(m.state_dict())
    assert int(fresh.step_count) == 2 and torch.allclose(fresh.predict(x), teacher, atol=1e-6)
    assert any(k.startswith("teacher.") for k in m.state_dict())  # saved in checkpoints (resume)
    fresh.hparams["predict_with"] = "student"
    assert torch.allclose(fresh.predict(x), student, atol=1e-6)
