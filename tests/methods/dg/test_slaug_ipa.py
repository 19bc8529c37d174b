"""SLAug's class-wise path uses the label; its saliency map is smooth on the grid; GIN-IPA's blend mask is smooth."""

from __future__ import annotations

import torch

from crosspan.methods.dg.slaug import saliency_map
from crosspan.transforms.random_intensity import random_smooth_field
from tests.methods.dg.test_augment import build, make_batch


def test_slaug_classwise_uses_label() -> None:
    m = build("slaug")
    batch = make_batch()
    x01 = (batch["image"] - batch["image"].min()) / (batch["image"].max() - batch["image"].min())
    other = torch.roll(batch["label"], 5, dims=-1)
    torch.manual_seed(0)
    a = m.class_aug(x01, batch["label"])
    torch.manual_seed(0)
    b = m.class_aug(x01, other)
    torch.manual_seed(0)
    a2 = m.class_aug(x01, batch["label"])
    assert torch.equal(a, a2)
    differ = (a - b).abs() > 1e-6
    assert differ.any()
    changed = batch["label"] != other
    assert differ[~changed.expand_as(differ)].sum() == 0  # only voxels whose label changed differ
    torch.manual_seed(0)
    g1 = m.global_aug(x01)
    torch.manual_seed(0)
    g2 = m.global_aug(x01)
    assert torch.equal(g1, g2)  # the global path does not see the label


def test_slaug_saliency_is_grid_smooth_and_normalized() -> None:
    grad = torch.randn(2, 1, 12, 12, 12)
    s = saliency_map(grad, 3)
    assert s.min() >= 0 and s.max() <= 1 + 1e-6
    assert torch.allclose(s.flatten(1).max(1).values, torch.ones(2), atol=1e-5)
    raw = saliency_map(grad, 1)
    assert s.diff(dim=-1).abs().mean() < 0.5 * raw.diff(dim=-1).abs().mean()


def test_gin_ipa_mask_is_smooth() -> None:
    torch.manual_seed(0)
    shape = (2, 1, 48, 48, 48)
    m, _ = random_smooth_field(shape, grid=24, epsilon=0.3)
    assert m.shape == shape and m.min() >= 0 and m.max() <= 1 + 1e-6
    assert m.max() - m.min() > 0.5
    noise = torch.rand(shape)
    for dim in (2, 3, 4):
        g = m.diff(dim=dim).abs()
        assert g.max() <= 1.0 / 23.5 + 1e-5  # 3 control points over 48 voxels: intervals of 23.5 voxels
        assert g.mean() < 0.1 * noise.diff(dim=dim).abs().mean()
