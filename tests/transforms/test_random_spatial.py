"""Spatial augmentation: the elastic deformation moves image and label together and is off by default."""

from __future__ import annotations

import torch

from crosspan.transforms.random_spatial import random_spatial


def _blob() -> tuple[torch.Tensor, torch.Tensor]:
    z, y, x = torch.meshgrid(*(torch.arange(24.0) for _ in range(3)), indexing="ij")
    inside = ((z - 12) ** 2 / 36 + (y - 12) ** 2 / 64 + (x - 11) ** 2 / 25) < 1
    return inside.float()[None, None].repeat(2, 1, 1, 1, 1), inside.long()[None, None].repeat(2, 1, 1, 1, 1)


def test_elastic_warps_image_and_label_alike() -> None:
    image, label = _blob()
    img, lab, _ = random_spatial(image.clone(), label.clone(), torch.Generator().manual_seed(0), p_rot=0,
                                 p_scale=0, p_elastic=1.0)
    assert not torch.equal(lab, label)  # the shape moved
    assert not torch.equal(img[0], img[1])  # each sample gets its own field
    agree = ((img > 0.5).long() == lab).float().mean()
    assert agree > 0.98  # bilinear image and nearest label went through the same grid
    assert set(lab.unique().tolist()) <= {0, 1}  # labels stay labels


def test_no_elastic_no_change_and_same_random_stream() -> None:
    image, label = _blob()
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    img, lab, _ = random_spatial(image.clone(), label.clone(), g1, p_rot=0, p_scale=0)
    assert torch.equal(img, image) and torch.equal(lab, label)
    random_spatial(image.clone(), label.clone(), g2, p_rot=0, p_scale=0, p_elastic=0.0)
    assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))
