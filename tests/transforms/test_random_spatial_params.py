"""Random spatial transforms: the parameters they return reproduce their output through the deterministic warp,
flip and resampling, and image and label move together."""

from __future__ import annotations

import torch

from crosspan.transforms.random_spatial import apply_spatial, random_resolution, random_spatial
from crosspan.transforms.spatial import coarse_resample
from tests.transforms.test_random_spatial import _blob


def test_random_spatial_parameters_reproduce_image_and_label() -> None:
    image, label = _blob()
    img, lab, params = random_spatial(image.clone(), label.clone(), torch.Generator().manual_seed(2), p_rot=1.0,
                                      p_scale=1.0, mirror=True, p_elastic=1.0)
    assert params.theta is not None and params.field is not None and params.flips is not None
    assert params.theta.shape == (2, 3, 4) and params.flips.shape == (3, 2)
    img2, lab2 = apply_spatial(image.clone(), label.clone(), params)
    assert torch.equal(img2, img) and torch.equal(lab2, lab)
    assert not torch.equal(lab, label)  # it moved


def test_nothing_drawn_to_move_means_no_resampling() -> None:
    image, label = _blob()
    img, lab, params = random_spatial(image.clone(), label.clone(), torch.Generator().manual_seed(0), p_rot=0,
                                      p_scale=0)
    assert params == (None, None, None) and torch.equal(img, image) and torch.equal(lab, label)


def test_random_resolution_parameters_reproduce_the_output() -> None:
    image, _ = _blob()
    out, factors = random_resolution(image, 4.0, 2.0, torch.Generator().manual_seed(1))
    assert factors.shape == (2, 3) and bool((factors >= 1).all()) and torch.equal(factors[:, 1], factors[:, 2])
    assert not torch.allclose(out, image)
    assert torch.equal(coarse_resample(image, factors), out)
    same, ones = random_resolution(image, 1.0, 1.0)
    assert same is image and torch.equal(ones, torch.ones(2, 3))
