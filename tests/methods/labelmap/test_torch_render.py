"""Torch renderer vs the numpy signal equations and the numpy renderer (crosspan.synth.torch_render)."""

import numpy as np
import pytest
import torch

from crosspan.synth.render import render
from crosspan.synth.scanner import field_gain
from crosspan.synth.sequences import signal_lut
from crosspan.synth.tissues import N_TISSUES, Tissue, nominal_arrays
from crosspan.synth.torch_render import haste_signal, paint, scanner_effects, spgr_signal, tissue_tensors

# float32 vs float64 evaluation of the same closed-form equations: relative error ~1e-6; 1e-4 leaves margin for
# exp/sin of float32 arguments (TE*df phases up to ~2 rad) without hiding a wrong term (those are >1 %).
RTOL = 1e-4

SEQS = [
    ({"kind": "spgr", "TR": 4.3, "TE": 1.4, "FA": 10, "fatsat": 0.17}, 1.5),
    ({"kind": "spgr", "TR": 4.0, "TE": 1.9, "FA": 12, "fatsat": 0.1, "contrast": True, "r1": 3.5, "cp": 1.5}, 3.0),
    ({"kind": "spgr", "TR": 170, "TE": 2.3, "FA": 70}, 1.5),   # opposed phase
    ({"kind": "spgr", "TR": 170, "TE": 4.6, "FA": 70}, 1.5),   # in phase
    ({"kind": "spgr", "TR": 5.5, "TE": 3.3, "FA": 12, "inflow": 1.6}, 3.0),  # any TE
    ({"kind": "haste", "TR": 1030, "TE": 85, "flow_void": 0.03}, 1.5),
    ({"kind": "haste", "TR": 1400, "TE": 100, "fatsat": 0.1, "flow_void": 0.05}, 3.0),
]


def torch_lut(seq, field):
    p = tissue_tensors(field)
    if seq["kind"] == "haste":
        return haste_signal(p, seq["TR"], seq["TE"], torch.tensor([bool(seq.get("fatsat"))]),
                            seq.get("flow_void", 0.03))[0]
    r1cp = seq["r1"] * seq["cp"] if seq.get("contrast") else None
    return spgr_signal(p, seq["TR"], seq["TE"], seq["FA"], field, seq.get("fatsat"), r1cp, seq.get("inflow", 1.0))[0]


@pytest.mark.parametrize(("seq", "field"), SEQS)
def test_equations_match_numpy(seq, field):
    ref = signal_lut(nominal_arrays(field), seq, field)[0]
    got = torch_lut(seq, field).numpy()
    np.testing.assert_allclose(got.real, ref.real, rtol=RTOL, atol=1e-7)
    np.testing.assert_allclose(got.imag, ref.imag, rtol=RTOL, atol=1e-7)
    # opposed phase really cancels: fat-containing tissues lose signal vs in-phase
    if seq["TE"] == 2.3:
        ip = signal_lut(nominal_arrays(field), {**seq, "TE": 4.6}, field)[0]
        assert abs(got[Tissue.MARROW]) < 0.7 * abs(ip[Tissue.MARROW])


def test_image_tissue_means_match_numpy_renderer():
    """Whole-image check: the numpy renderer without supersampling, texture, B1, bias or noise gives per-tissue
    means equal to the torch paint of the same look-up (up to the field gain the numpy scanner applies)."""
    rng = np.random.default_rng(0)
    tissue = rng.integers(0, N_TISSUES, (4, 12, 12)).astype(np.uint8)
    seq, field = SEQS[1]
    params = {**nominal_arrays(field), "texture": np.zeros(N_TISSUES)}
    img_np = render(tissue, params, seq, {"field": field}, np.random.default_rng(1), ss=(1, 1, 1))
    lut = torch_lut(seq, field)[None]
    img_t = scanner_effects(paint(torch.from_numpy(tissue)[None, None], lut), torch.Generator())[0, 0].numpy()
    for t in np.unique(tissue):
        m = tissue == t
        assert img_t[m].mean() * field_gain(field) == pytest.approx(img_np[m].mean(), rel=1e-3, abs=1e-6)


def test_scanner_effects_noise_is_rician_and_seeded():
    img = torch.zeros(2, 1, 8, 8, 8, dtype=torch.complex64)
    sig = torch.tensor([0.1, 0.2])
    a = scanner_effects(img, torch.Generator().manual_seed(3), sigma=sig)
    b = scanner_effects(img, torch.Generator().manual_seed(3), sigma=sig)
    assert torch.equal(a, b)
    # magnitude of pure complex noise is Rayleigh: mean sigma*sqrt(pi/2)
    assert float(a[1].mean()) == pytest.approx(0.2 * np.sqrt(np.pi / 2), rel=0.1)
