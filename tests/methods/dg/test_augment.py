"""Intensity-augmentation DG methods: they change intensities, never labels, differ between calls, and are absent
from predict."""

from __future__ import annotations

import pytest
import torch
from monai.networks.nets import UNet

from crosspan.core.blur import gaussian_blur
from crosspan.methods import get_method

AUGMENTS = ["bigaug", "randconv", "gin", "gin-ipa", "contrast-inversion", "slaug", "dualnorm"]
FORCE = {"bigaug": {"p": 1.0}, "randconv": {"p": 1.0, "kernel_sizes": "3,5,7"}, "gin": {"p": 1.0},
         "contrast-inversion": {"p": 1.0}}


def tiny_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return UNet(3, 1, 2, channels=(4, 8), strides=(2,), num_res_units=0, norm="instance")


def make_batch(b: int = 2, size: int = 16, seed: int = 0, domains: list[int] | None = None) -> dict:
    g = torch.Generator().manual_seed(seed)
    zz, yy, xx = torch.meshgrid(*[torch.arange(size, dtype=torch.float32)] * 3, indexing="ij")
    c = size / 2
    blob = ((zz - c) ** 2 + (yy - c) ** 2 + (xx - c) ** 2 < (size / 4) ** 2)
    label = blob[None, None].repeat(b, 1, 1, 1, 1).long()
    image = 2.0 * label.float() + 0.3 * torch.randn(b, 1, size, size, size, generator=g)
    image = (image - image.mean()) / image.std()
    dom = torch.tensor(domains if domains is not None else [i % 2 for i in range(b)])
    return {"image": image, "label": label, "domain": dom}


def build(name: str, hp: dict | None = None, net: torch.nn.Module | None = None):
    cls = get_method(name)
    m = cls(net or tiny_net(), ["A:T1", "B:T1"], {**FORCE.get(name, {}), **(hp or {})})
    m.setup_training(10)
    return m


@pytest.mark.parametrize("name", AUGMENTS)
def test_augment_changes_intensity_not_label_and_differs(name: str) -> None:
    m = build(name)
    batch = make_batch()
    torch.manual_seed(1)
    a = m.augment(batch["image"].clone(), batch["label"])
    b = m.augment(batch["image"].clone(), batch["label"])
    n = batch["image"].shape[0]
    assert a.shape[1:] == batch["image"].shape[1:] and a.shape[0] % n == 0
    assert torch.isfinite(a).all()
    assert (a[:n] - batch["image"]).abs().mean() > 1e-2, "intensities unchanged"
    assert (a - b).abs().mean() > 1e-3, "two calls gave the same augmentation"


@pytest.mark.parametrize("name", AUGMENTS)
def test_update_never_changes_labels(name: str) -> None:
    m = build(name)
    batch = make_batch()
    label0 = batch["label"].clone()
    seen: list[torch.Tensor] = []
    orig = m.supervised_loss

    def spy(out, label):
        seen.append(label.clone())
        return orig(out, label)

    m.supervised_loss = spy  # type: ignore[method-assign]
    logs = m.update(batch)
    assert torch.equal(batch["label"], label0)
    assert seen and all(torch.equal(s.reshape(-1, *label0.shape[1:])[: len(label0)], label0) for s in seen)
    assert all(torch.isfinite(torch.tensor(v)) for v in logs.values())


@pytest.mark.parametrize("name", AUGMENTS)
def test_predict_is_not_augmented(name: str) -> None:
    m = build(name)
    m.eval()
    x = make_batch()["image"]

    def boom(*a, **k):
        raise AssertionError("augment called in predict")

    m.augment = boom  # type: ignore[method-assign]
    p1, p2 = m.predict(x), m.predict(x)
    assert torch.equal(p1, p2)
    if name != "dualnorm":  # dual-norm's predict chooses a normalization branch, tested separately
        assert torch.allclose(p1, torch.softmax(m.network(x), 1))


def test_gaussian_blur_matches_scipy() -> None:
    from scipy.ndimage import gaussian_filter

    x = torch.randn(2, 1, 12, 12, 12)
    sig = torch.tensor([0.8, 1.4])
    y = gaussian_blur(x, sig)
    for i in range(2):
        ref = gaussian_filter(x[i, 0].numpy(), float(sig[i]), mode="nearest", truncate=5.0)
        assert abs(y[i, 0].numpy() - ref)[2:-2, 2:-2, 2:-2].max() < 2e-2


def test_contrast_inversion_full_inversion() -> None:
    m = build("contrast-inversion", {"p": 1.0, "p_invert": 1.0})
    x = make_batch()["image"]
    y = m.augment(x.clone(), make_batch()["label"])
    corr = torch.corrcoef(torch.stack([x.flatten(), y.flatten()]))[0, 1]
    assert corr < -0.9
