"""anatomy-invariant mechanisms: the region regularizer is zero iff predictions are constant within regions;
pseudo-labels are refined to region boundaries; the partition ignores contrast inversion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crosspan.methods.ssl.regions import partition, refine_to_regions, region_variance
from tests.methods.dg.test_augment import make_batch
from tests.methods.ssl.test_mean_teacher import build, unlabeled_batch


def test_region_variance_zero_iff_constant_within_regions() -> None:
    g = torch.Generator().manual_seed(0)
    regions = torch.randint(0, 6, (2, 8, 8, 8), generator=g)
    level = torch.rand(6, generator=g)
    const = level[regions]
    assert region_variance(const, regions) < 1e-10
    noisy = const + 0.1 * torch.randn(const.shape, generator=g)
    assert region_variance(noisy, regions) > 1e-3
    # value: two regions, one with values {0, 1} (variance 0.25), one constant -> mean 0.125
    r = torch.tensor([0, 0, 1, 1])
    assert torch.isclose(region_variance(torch.tensor([0.0, 1.0, 0.3, 0.3]), r), torch.tensor(0.125))


def test_region_variance_gradient_pulls_toward_region_mean() -> None:
    r = torch.tensor([0, 0, 0, 1])
    p = torch.tensor([0.2, 0.5, 0.8, 0.4], requires_grad=True)
    region_variance(p, r).backward()
    assert p.grad[0] < 0 and p.grad[2] > 0 and abs(p.grad[1]) < 1e-7 and p.grad[3] == 0


def test_refine_to_regions() -> None:
    r = torch.tensor([0, 0, 0, 1, 1, 2])
    q = torch.tensor([0.9, 0.8, 0.2, 0.4, 0.55, 0.51])
    assert refine_to_regions(q, r).tolist() == [1, 1, 1, 0, 0, 1]


@pytest.mark.parametrize("method", ["felzenszwalb", "slic"])
def test_partition_follows_edges_and_ignores_contrast_inversion(method: str) -> None:
    label = make_batch(b=1, size=24)["label"][0, 0].numpy()
    image = 2.0 * label + 0.05 * np.random.default_rng(0).normal(size=label.shape)
    kw = {"n_segments": 40} if method == "slic" else {}
    a, b = partition(image, method, **kw), partition(-image, method, **kw)
    assert a.min() == 0 and len(np.unique(a)) == a.max() + 1 > 2
    purity = [max(label[a == k].mean(), 1 - label[a == k].mean()) for k in np.unique(a)]
    assert np.mean(purity) > 0.95  # regions do not straddle the organ boundary
    # same partition up to relabeling under inversion: every region of a maps to one region of b
    pairs = {(int(x), int(y)) for x, y in zip(a.ravel(), b.ravel(), strict=True)}
    assert len(pairs) <= 1.05 * len(np.unique(a))


def test_unknown_partition_is_a_clear_error() -> None:
    from crosspan.core.errors import CrosspanError

    with pytest.raises(CrosspanError, match="partition"):
        build("anatomy-invariant", {"partition": "watershed"})


def test_anatomy_update_logs_and_roundtrip() -> None:
    m = build("anatomy-invariant", {"rampup_steps": 0})
    logs = m.update(make_batch(b=2), unlabeled_batch())
    assert all(np.isfinite(v) for v in logs.values()) and logs["regions"] > 2 and logs["region"] > 0
    fresh = build("anatomy-invariant")
    fresh.load_state_dict(m.state_dict())
    x = make_batch(b=2, seed=5)["image"]
    m.eval()
    fresh.eval()
    assert torch.allclose(fresh.predict(x), m.predict(x), atol=1e-6) and int(fresh.step_count) == 1
