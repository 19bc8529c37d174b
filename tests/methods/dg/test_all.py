"""Every registered DG method: one update on a tiny batch after setup_training gives finite logs; hparams merge
the supervised defaults and are overridable; the state dict round-trips."""

from __future__ import annotations

import pytest
import torch

from crosspan.methods import get_method, method_names
from crosspan.methods.base import resolve_hparams
from crosspan.methods.common import SupervisedMethod
from crosspan.models import build_network, network_config
from tests.methods.dg.test_augment import make_batch

DG = ["bigaug", "randconv", "gin", "gin-ipa", "contrast-inversion", "mixstyle", "dsu", "groupdro", "vrex", "slaug",
      "dualnorm", "rsc", "eqrm", "ib-erm", "sd"]


def net() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_network(network_config("tiny", [16, 16, 16], [1.0, 1.0, 1.0]))


def test_all_registered() -> None:
    assert set(DG) <= set(method_names())


@pytest.mark.parametrize("name", DG)
def test_one_update_finite_and_roundtrip(name: str) -> None:
    cls = get_method(name)
    assert cls.forward_passes >= 1
    assert set(SupervisedMethod.default_hparams) <= set(cls.default_hparams)
    assert cls.__module__.startswith("crosspan.methods.dg.") and "20" in (cls.__doc__ or "") + (
        __import__(cls.__module__, fromlist=["x"]).__doc__ or "")  # cites a paper (year)
    m = cls(net(), ["A:T1", "B:T1"])
    m.setup_training(4)
    m.train()
    w0 = [p.detach().clone() for p in m.network.parameters()]
    logs = m.update(make_batch(b=2, domains=[0, 1]))
    assert logs and all(torch.isfinite(torch.tensor(float(v))) for v in logs.values())
    assert any(not torch.equal(a, b) for a, b in zip(w0, m.network.parameters(), strict=True))
    m.eval()
    x = make_batch(b=2, seed=5)["image"]
    p = m.predict(x)
    assert p.shape == (2, 2, 16, 16, 16) and torch.allclose(p.sum(1), torch.ones(1), atol=1e-5)
    fresh = cls(net(), ["A:T1", "B:T1"])
    fresh.load_state_dict(m.state_dict())
    fresh.eval()
    assert torch.allclose(fresh.predict(x), p, atol=1e-6)


def test_hparams_overridable_from_strings() -> None:
    hp = resolve_hparams(get_method("bigaug"), {"p": "0.3", "gamma_max": "3"})
    assert hp["p"] == 0.3 and hp["gamma_max"] == 3.0 and hp["lr"] == 1e-2
    assert resolve_hparams(get_method("randconv"), {"mix": "0"})["mix"] == 0
    assert resolve_hparams(get_method("vrex"), {"warmup_steps": "20"})["warmup_steps"] == 20
