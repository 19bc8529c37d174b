"""UA-MT mechanisms: the consistency counts only voxels with teacher entropy below the threshold."""

from __future__ import annotations

import math

import torch

from crosspan.methods.ssl.ua_mt import entropy, masked_mse
from tests.methods.dg.test_augment import make_batch
from tests.methods.ssl.test_mean_teacher import build, unlabeled_batch


def test_entropy_and_masked_mse_values() -> None:
    p = torch.tensor([0.5, 1.0, 0.9]).reshape(1, 1, 3, 1, 1)
    p = torch.cat([1 - p, p], 1)
    h = entropy(p).flatten()
    assert abs(h[0] - math.log(2)) < 1e-4 and h[1] < 1e-4 and 0.3 < h[2] < 0.35
    s = torch.rand(1, 2, 3, 1, 1)
    mask = torch.tensor([0.0, 1.0, 0.0]).reshape(1, 1, 3, 1, 1)
    assert torch.isclose(masked_mse(s, p, mask), ((s - p)[:, :, 1] ** 2).mean())
    assert masked_mse(s, p, torch.zeros_like(mask)) == 0  # nothing certain: no consistency


def test_threshold_zero_masks_everything() -> None:
    m = build("ua-mt", {"threshold_start": 0.0, "threshold_end": 0.0, "uncertainty_T": 2, "rampup_steps": 0})
    _, logs = m.loss(make_batch(b=2), unlabeled_batch())
    assert logs["certain"] == 0 and logs["cons"] == 0


def test_update_finite_and_roundtrip() -> None:
    m = build("ua-mt", {"uncertainty_T": 2})
    logs = m.update(make_batch(b=2), unlabeled_batch())
    assert all(math.isfinite(v) for v in logs.values()) and 0 <= logs["certain"] <= 1
    fresh = build("ua-mt", {"uncertainty_T": 2})
    fresh.load_state_dict(m.state_dict())
    x = make_batch(b=2, seed=5)["image"]
    m.eval()
    fresh.eval()
    assert torch.allclose(fresh.predict(x), m.predict(x), atol=1e-6)
