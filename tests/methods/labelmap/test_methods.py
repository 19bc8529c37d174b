"""physics-rand and synthseg: contrast coverage, untouched labels, seeded draws, one update, state round-trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crosspan.core.errors import CrosspanError
from crosspan.methods import get_method
from crosspan.methods.labelmap.draws import FAMILIES, draw_images, zscore_body
from crosspan.methods.labelmap.synthseg import gmm_images
from crosspan.models import build_network, network_config
from crosspan.synth.tissues import Tissue


def tissue_map(b: int = 2, n: int = 16) -> torch.Tensor:
    """Slabs of fat | pancreas | liver with a vessel, muscle and air corner."""
    t = torch.full((b, 1, n, n, n), int(Tissue.VISCERAL_FAT), dtype=torch.long)
    t[:, :, :, n // 2:] = Tissue.PANCREAS
    t[:, :, :, :, : n // 4] = Tissue.LIVER
    t[:, :, :, :2] = Tissue.AIR
    t[:, :, :4, -4:, -4:] = Tissue.AORTA
    t[:, :, -3:, :, -3:] = Tissue.MUSCLE
    return t


def batch(b: int = 2) -> dict[str, torch.Tensor]:
    t = tissue_map(b)
    return {"image": torch.randn(t.shape), "label": (t == Tissue.PANCREAS).long(), "domain": torch.zeros(b).long(),
            "tissue": t}


def test_draws_cover_both_signs_of_pancreas_fat_contrast() -> None:
    t = tissue_map(64)
    img, proto = draw_images(t, torch.Generator().manual_seed(0))
    panc = (t == Tissue.PANCREAS)[:, 0, :, :, 5:]
    fat = (t == Tissue.VISCERAL_FAT)[:, 0, :, :, 5:]
    x = img[:, 0, :, :, 5:]
    diff = (x * panc).flatten(1).sum(1) / panc.flatten(1).sum(1) - (x * fat).flatten(1).sum(1) / fat.flatten(1).sum(1)
    assert (diff > 0).any() and (diff < 0).any()
    assert set(proto["family"].tolist()) == set(range(len(FAMILIES)))  # every family drawn in 64 samples
    # fat-sat T1 always has the pancreas brighter than fat; STIR-like IR (TI near fat null) never exceeds it much
    assert (diff[proto["family"] == 0] > 0).all()
    assert torch.isfinite(img).all() and (img >= 0).all()


def test_same_seed_same_draws_and_different_seed_differs() -> None:
    t = tissue_map(4)
    a, _ = draw_images(t, torch.Generator().manual_seed(7))
    b, _ = draw_images(t, torch.Generator().manual_seed(7))
    c, _ = draw_images(t, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.allclose(a, c)
    g1, g2 = gmm_images(t, torch.Generator().manual_seed(1)), gmm_images(t, torch.Generator().manual_seed(1))
    assert torch.equal(g1, g2)


def test_zscore_body_matches_preprocessing() -> None:
    import numpy as np

    from crosspan.preprocess.normalize import zscore

    g = torch.Generator().manual_seed(0)
    x = torch.rand((1, 1, 12, 12, 12), generator=g) ** 3
    body = torch.zeros_like(x, dtype=torch.bool)
    body[..., 2:10, 2:10, :] = True
    ref = zscore(x[0, 0].numpy(), body[0, 0].numpy())
    np.testing.assert_allclose(zscore_body(x, body)[0, 0].numpy(), ref, atol=2e-3)


def net() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_network(network_config("tiny", [16, 16, 16], [1.0, 1.0, 1.0]))


@pytest.mark.parametrize("name", ["physics-rand", "synthseg"])
def test_update_finite_labels_untouched_seeded_and_roundtrip(name: str) -> None:
    cls = get_method(name)
    m = cls(net(), ["A:T1"], {"volume_norm": 0})  # the patch z-score: checked on the body below
    m.setup_training(4)
    m.train()
    data = batch()
    label0, tissue0 = data["label"].clone(), data["tissue"].clone()
    torch.manual_seed(3)
    d1 = m.draw(data)
    torch.manual_seed(3)
    assert torch.equal(m.draw(data), d1)  # the engine reseeds torch per step: same step, same draw
    assert not torch.allclose(d1, data["image"])
    body = data["tissue"] > 0
    assert abs(float(d1[body].mean())) < 0.05 and abs(float(d1[body].std()) - 1) < 0.05
    w0 = [p.detach().clone() for p in m.network.parameters()]
    logs = m.update(data)
    assert all(torch.isfinite(torch.tensor(float(v))) for v in logs.values())
    assert torch.equal(data["label"], label0) and torch.equal(data["tissue"], tissue0)
    assert any(not torch.equal(a, b) for a, b in zip(w0, m.network.parameters(), strict=True))
    m.eval()
    x = torch.randn(2, 1, 16, 16, 16)
    fresh = cls(net(), ["A:T1"])
    fresh.load_state_dict(m.state_dict())
    fresh.eval()
    assert torch.allclose(fresh.predict(x), m.predict(x), atol=1e-6)


@pytest.mark.parametrize("mask", ["noise-floor", "otsu"])
def test_volume_norm_matches_the_preprocessing_on_a_whole_volume(mask: str) -> None:
    """physics-rand normalizes a patch with statistics the preprocessing computes on a whole volume of the drawn
    protocol (with the plan's body mask): on the reference anatomy itself the result equals body_mask + zscore up
    to texture; a crop gets the same values as the same voxels of the whole volume (per-patch z-scoring would not)."""
    import numpy as np

    from crosspan.methods.labelmap.draws import volume_zscore
    from crosspan.methods.labelmap.normalize import reference_map
    from crosspan.preprocess.normalize import body_mask, zscore

    ref = torch.from_numpy(reference_map(crop=mask == "otsu"))[None, None].expand(6, 1, -1, -1, -1).contiguous()
    img, proto = draw_images(ref, torch.Generator().manual_seed(0), bias=(0.0, 0.0), blur=(0.0, 0.0), mask=mask)
    mine = volume_zscore(img, proto)
    for i in range(6):
        raw = img[i, 0].numpy()
        want = zscore(raw, body_mask(raw, mask))
        assert float(np.abs(mine[i, 0].numpy() - want).mean()) < 0.25
    crop = (slice(None), slice(None), slice(4, 12), slice(10, 26), slice(10, 30))
    assert torch.allclose(apply_crop := volume_zscore(img[crop], proto), mine[crop])
    assert not torch.allclose(zscore_body(img[crop], ref[crop] > 0), apply_crop, atol=0.05)


def test_physics_rands_body_mask_reaches_the_draws_normalization(tmp_path: Path) -> None:
    """The ``body_mask`` hyperparameter picks the mask of the draws' normalization statistics (``otsu`` by default,
    also under a noise-floor plan: training does not override it); a wrong value is refused."""
    from crosspan.preprocess.plan import Plan
    from crosspan.training.loop import TrainConfig, _model_doc

    with pytest.raises(CrosspanError, match="body_mask"):
        get_method("physics-rand")(net(), ["A:T1"], {"body_mask": "bogus"})
    tissue = batch()["tissue"]
    norms = {}
    for mask in ("otsu", "noise-floor"):
        m = get_method("physics-rand")(net(), ["A:T1"], {"body_mask": mask})
        norms[mask] = m._draw(tissue, torch.Generator().manual_seed(3))[1]["norm"]
    assert not torch.allclose(norms["otsu"]["mean"], norms["noise-floor"]["mean"])
    plan = Plan(target_spacing=(4.0, 3.5, 3.5), median_shape=[16.0, 24.0, 24.0], patch_size=[16, 24, 24],
                patch_size_cpu=[16, 24, 24], train_domains=["A:T1"], training_input="label-maps",
                body_mask="noise-floor")
    doc = _model_doc(TrainConfig(plan_dir=str(tmp_path), run_dir=str(tmp_path / "r"), method="physics-rand"),
                     plan, [16, 24, 24], 1)
    assert doc.hparams["body_mask"] == "otsu"


def test_p_real_keeps_real_images_and_missing_tissue_is_clear_error() -> None:
    m = get_method("physics-rand")(net(), ["A:T1"], {"p_real": 1.0})
    data = batch()
    assert torch.equal(m.draw(data), data["image"])
    del data["tissue"]
    with pytest.raises(CrosspanError, match="tissue"):
        m.draw(data)


def test_synthseg_volume_norm_does_not_depend_on_the_crop() -> None:
    """synthseg with ``volume_norm=1`` rescales and z-scores a draw with its statistics on the reference abdomen:
    with texture, noise, blur, bias and gamma off (each class one value), a crop gets the values the same voxels get
    in the whole map, and the reference itself comes out z-scored inside its body; the patch's own statistics
    (``volume_norm=0``) give the crop other values."""
    from crosspan.methods.labelmap.normalize import reference_map

    flat = {"std_max": 0.0, "blur_max": 0.0, "bias_max": 0.0, "noise_max": 0.0, "gamma_std": 0.0}
    ref = torch.from_numpy(reference_map(crop=True))[None, None].expand(3, 1, -1, -1, -1).contiguous()
    crop = (slice(None), slice(None), slice(4, 16), slice(8, 20), slice(10, 30))

    def draw(volume_norm: int, tissue: torch.Tensor) -> torch.Tensor:
        m = get_method("synthseg")(net(), ["A:T1"], {**flat, "volume_norm": volume_norm})
        return m.synthesize_normalized(tissue, torch.Generator().manual_seed(5))

    whole, part = draw(1, ref), draw(1, ref[crop].contiguous())
    assert torch.allclose(part, whole[crop], atol=1e-5)
    body = ref > 0
    for i in range(3):
        inside = whole[i][body[i]]
        assert abs(float(inside.mean())) < 0.05 and abs(float(inside.std()) - 1.0) < 0.05
    own_whole, own_part = draw(0, ref), draw(0, ref[crop].contiguous())
    assert not torch.allclose(own_part, own_whole[crop], atol=0.05)


def test_physics_rand_gmm_volume_norm_gives_a_class_one_value_wherever_the_patch_lies(monkeypatch) -> None:
    """physics-rand's ``p_gmm`` draws with ``gmm_volume_norm=1`` are normalized with the draw's statistics on the
    reference abdomen (as synthseg's): with a flat mixture, one class gets one value in two equal-sized patches of
    different body content; with the patch's own body z-score (``gmm_volume_norm=0``) it does not."""
    import functools

    from crosspan.methods.labelmap import physics_rand
    from crosspan.methods.labelmap.normalize import reference_map

    flat = {"std": 0.0, "blur": 0.0, "bias": 0.0, "noise": 0.0, "gamma": 0.0}
    monkeypatch.setattr(physics_rand, "gmm_volume_draw", functools.partial(physics_rand.gmm_volume_draw, **flat))
    monkeypatch.setattr(physics_rand, "gmm_images", functools.partial(physics_rand.gmm_images, **flat))
    ref = torch.from_numpy(reference_map(crop=True))[None, None]
    z, y, x = (s // 2 for s in ref.shape[2:])
    a = ref[..., :z, :y, :x].contiguous()  # a corner: more background
    b = ref[..., -z:, y // 2:y // 2 + y, x // 2:x // 2 + x].contiguous()
    assert a.shape == b.shape and (a > 0).float().mean() != (b > 0).float().mean()

    def class_values(gmm_volume_norm: int, tissue: torch.Tensor) -> dict[int, float]:
        m = get_method("physics-rand")(net(), ["A:T1"], {"p_gmm": 1.0, "gmm_volume_norm": gmm_volume_norm})
        img = m.synthesize_normalized(tissue, torch.Generator().manual_seed(3))
        return {int(c): float(img[tissue == c].mean()) for c in torch.unique(tissue)}

    for norm, same in ((1, True), (0, False)):
        va, vb = class_values(norm, a), class_values(norm, b)
        shared = sorted(set(va) & set(vb) - {0})
        assert len(shared) >= 3
        assert all(abs(va[c] - vb[c]) < 1e-4 for c in shared) is same, (norm, va, vb)
