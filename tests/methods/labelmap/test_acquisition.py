"""Acquisition and normalization randomization of label-map draws (issue #17) acts, and is off by default."""

from __future__ import annotations

import torch

from crosspan.methods import get_method
from crosspan.models import build_network, network_config
from crosspan.transforms.random_intensity import random_gamma, random_normalization_jitter
from crosspan.transforms.random_spatial import random_resolution


def build(name: str, hp: dict):
    net = build_network(network_config("tiny", [16, 24, 24], [1.0, 1.0, 1.0]))
    m = get_method(name)(net, ["A:T1"], hp)
    m.setup_training(10)
    return m


def _slab(b: int = 4) -> torch.Tensor:
    """Alternating 1-voxel slices along z: the pattern a thick acquisition averages away."""
    x = torch.zeros(b, 1, 16, 12, 12)
    x[:, :, ::2] = 1.0
    return x


def test_resolution_randomize_averages_thin_structures_and_keeps_the_grid() -> None:
    x, gen = _slab(), torch.Generator().manual_seed(0)
    y, _ = random_resolution(x, z_max=4.0, xy_max=1.0, gen=gen)
    assert y.shape == x.shape
    contrast = (y[:, :, ::2].mean((1, 2, 3, 4)) - y[:, :, 1::2].mean((1, 2, 3, 4))).abs()
    assert float(contrast.max()) < 0.9  # slices were averaged
    assert torch.allclose(y.mean((2, 3, 4)), x.mean((2, 3, 4)), atol=0.1)  # the signal level is kept
    assert torch.equal(random_resolution(x, 1.0, 1.0, gen)[0], x)


def test_gamma_and_normalization_jitter_change_intensities_per_sample() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(3, 1, 8, 8, 8) + 0.1
    g, _ = random_gamma(x, std=0.5, gen=gen)
    assert not torch.allclose(g, x) and (g >= 0).all()
    j, _ = random_normalization_jitter(x, amount=0.3, gen=gen)
    ratio = (j - j.mean((2, 3, 4), keepdim=True)).std((2, 3, 4)) / (x - x.mean((2, 3, 4), keepdim=True)).std((2, 3, 4))
    assert float(ratio.max() - ratio.min()) > 1e-3  # a different gain per sample
    assert torch.equal(random_gamma(x, 0.0, gen)[0], x) and torch.equal(random_normalization_jitter(x, 0.0, gen)[0], x)


def _tissue() -> torch.Tensor:
    t = torch.full((2, 1, 16, 24, 24), 2, dtype=torch.long)  # visceral fat
    t[:, :, 4:12, 6:18, 6:18] = 16  # pancreas
    t[:, :, :, :3] = 0
    return t


def test_physics_rand_randomization_reaches_the_training_images_and_never_the_label() -> None:
    tissue = _tissue()
    plain = build("physics-rand", {})
    robust = build("physics-rand", {"res_z_max": 4.0, "res_xy_max": 2.0, "gamma_std": 0.3, "norm_jitter": 0.3,
                                    "p_gmm": 0.5})
    a = plain.synthesize_normalized(tissue, torch.Generator().manual_seed(3))
    b = plain.synthesize_normalized(tissue, torch.Generator().manual_seed(3))
    c = robust.synthesize_normalized(tissue, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.allclose(a, c)
    batch = {"image": torch.zeros(2, 1, 16, 24, 24), "label": (tissue == 16).long(), "tissue": tissue,
             "domain": torch.zeros(2, dtype=torch.long)}
    label = batch["label"].clone()
    robust.update(batch)
    assert torch.equal(batch["label"], label)


def test_acquire_coarse_keeps_the_noise_of_the_acquired_voxels() -> None:
    """Noise added on the coarse grid survives (interpolated); noise added first is averaged away by the pooling."""
    from crosspan.methods.labelmap.acquisition import acquire_coarse
    from crosspan.synth.torch_render import scanner_effects

    img = torch.ones(2, 1, 32, 16, 16, dtype=torch.complex64)
    sigma = torch.full((2,), 0.2)

    def noisy(x: torch.Tensor, i: int) -> torch.Tensor:
        return scanner_effects(x, torch.Generator().manual_seed(i), sigma=sigma[i:i + 1])

    before = acquire_coarse(img, torch.Generator().manual_seed(0), 4.0, 1.0, noisy)
    after, _ = random_resolution(torch.cat([noisy(img[i:i + 1], i) for i in range(2)]), 4.0, 1.0,
                                 torch.Generator().manual_seed(0))
    assert before.shape == img.shape and after.shape == img.shape
    assert float(before.std()) > 1.3 * float(after.std())
    assert abs(float(before.mean()) - float(after.mean())) < 0.05  # the signal level is kept
    same = acquire_coarse(img, torch.Generator().manual_seed(0), 1.0, 1.0, noisy)
    assert torch.equal(same[:1], noisy(img[:1], 0))  # factors of 1: the effects on the label map's grid


def test_haste_tr_range_is_drawn_and_defaults_are_unchanged() -> None:
    from crosspan.methods.labelmap.draws import draw_protocols

    haste = (0.0, 0.0, 1.0, 0.0)
    wide = draw_protocols(256, torch.Generator().manual_seed(0), haste, haste_tr=(3000.0, 6000.0))["tr"]
    assert float(wide.min()) >= 3000.0 and float(wide.max()) <= 6000.0 and float(wide.std()) > 100.0
    default = draw_protocols(256, torch.Generator().manual_seed(0), haste)["tr"]
    assert float(default.min()) >= 800.0 and float(default.max()) <= 2000.0
    assert torch.equal(default, draw_protocols(256, torch.Generator().manual_seed(0), haste, (800.0, 2000.0))["tr"])


def test_physics_rand_resolution_before_noise_changes_the_draws() -> None:
    tissue = _tissue()
    hp = {"res_z_max": 3.0, "p_haste": 1.0, "p_t1fs": 0.0, "p_gre": 0.0, "p_ir": 0.0}
    after = build("physics-rand", hp).synthesize_normalized(tissue, torch.Generator().manual_seed(4))
    before = build("physics-rand", {**hp, "res_before_noise": 1}).synthesize_normalized(
        tissue, torch.Generator().manual_seed(4))
    assert before.shape == after.shape and not torch.allclose(before, after)
