"""Random intensity transforms (TorchIO style): the parameters a random transform returns reproduce its output
through the deterministic map, one seed gives one draw, switched-off transforms draw nothing, and no intensity
transform takes or touches a label."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
import torch

from crosspan.core.blur import gaussian_blur
from crosspan.transforms import intensity, random_intensity
from crosspan.transforms.intensity import (
    add_clamped_noise,
    add_noise,
    bezier_map,
    conv_view,
    gain_shift,
    gamma,
    gin_view,
    location_scale,
    piecewise_linear,
    range_gamma,
    robust_unit,
    sharpen,
    smooth_field,
)
from crosspan.transforms.random_intensity import (
    random_bezier_map,
    random_blur,
    random_clamped_noise,
    random_conv,
    random_curve,
    random_gamma,
    random_gin,
    random_location_scale,
    random_noise,
    random_normalization_jitter,
    random_range_gamma,
    random_sharpen,
    random_slaug_bezier_map,
    random_smooth_field,
)

B = 3


def _image(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(B, 1, 10, 12, 8, generator=g) * 3 + 0.1


def _unit() -> torch.Tensor:
    return robust_unit(_image())


# (random transform called with a generator, deterministic map called with the drawn parameters)
CASES: dict[str, tuple[Callable[[torch.Generator], Any], Callable[[Any], torch.Tensor]]] = {
    "bezier": (lambda g: random_bezier_map(_unit(), torch.tensor([True, False, True]), g),
               lambda p: bezier_map(_unit(), *p)),
    "slaug_bezier": (lambda g: random_slaug_bezier_map(_unit(), torch.tensor([False, True, False]), g),
                     lambda p: bezier_map(_unit(), *p)),
    "curve": (lambda g: random_curve(_unit(), 5, 0.5, g), lambda p: piecewise_linear(_unit(), p)),
    "gamma": (lambda g: random_gamma(_image(), 0.5, g), lambda p: gamma(_image(), p)),
    "jitter": (lambda g: random_normalization_jitter(_image(), 0.3, g), lambda p: gain_shift(_image(), *p)),
    "location_scale": (lambda g: random_location_scale(_unit(), 0.1, 0.5, g),
                       lambda p: location_scale(_unit(), *p)),
    "noise": (lambda g: random_noise(_image(), 0.2, g), lambda p: add_noise(_image(), *p)),
    "conv": (lambda g: random_conv(_image(), 3, g), lambda p: conv_view(_image(), p)),
    "gin": (lambda g: random_gin(_image(), gen=g), lambda p: gin_view(_image(), p.layers, p.alpha)),
    "blur": (lambda g: random_blur(_image(), 0.5, 1.5, g), lambda p: gaussian_blur(_image(), p)),
    "sharpen": (lambda g: random_sharpen(_image(), 10.0, 30.0, g), lambda p: sharpen(_image(), *p)),
    "range_gamma": (lambda g: random_range_gamma(_image(), 0.5, 4.5, g), lambda p: range_gamma(_image(), p)),
    "smooth_field": (lambda g: random_smooth_field((B, 1, 10, 12, 8), 4.0, 0.3, gen=g),
                     lambda p: smooth_field(p, (10, 12, 8))),
    "clamped_noise": (lambda g: random_clamped_noise(_image(), 0.5, g), lambda p: add_clamped_noise(_image(), 0.5, p)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_drawn_parameters_reproduce_the_output(name: str) -> None:
    rand, det = CASES[name]
    out, params = rand(torch.Generator().manual_seed(4))
    assert not torch.allclose(out, _unit() if name in ("bezier", "slaug_bezier", "curve", "location_scale")
                              else _image())  # it did something
    assert torch.equal(det(params), out)


@pytest.mark.parametrize("name", list(CASES))
def test_one_seed_one_draw(name: str) -> None:
    rand, _ = CASES[name]
    a, _ = rand(torch.Generator().manual_seed(1))
    b, _ = rand(torch.Generator().manual_seed(1))
    c, _ = rand(torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_global_generator_when_none() -> None:
    torch.manual_seed(5)
    a, pa = random_curve(_unit(), 5, 0.3)
    torch.manual_seed(5)
    b, pb = random_curve(_unit(), 5, 0.3)
    assert torch.equal(a, b) and torch.equal(pa, pb)


def test_switched_off_transforms_return_the_image_and_draw_nothing() -> None:
    x, g = _image(), torch.Generator().manual_seed(3)
    state = g.get_state()
    y, g_drawn = random_gamma(x, 0.0, g)
    z, jit = random_normalization_jitter(x, 0.0, g)
    assert y is x and z is x and torch.equal(g.get_state(), state)
    assert torch.equal(g_drawn, torch.ones(B)) and torch.equal(jit.gain, torch.ones(B))


def _public_functions() -> list[Callable[..., Any]]:
    mods = (intensity, random_intensity)
    return [f for m in mods for n, f in vars(m).items()
            if inspect.isfunction(f) and not n.startswith("_") and f.__module__ == m.__name__]


def test_intensity_transforms_take_no_label() -> None:
    funcs = _public_functions()
    assert len(funcs) >= 15
    for f in funcs:
        params = set(inspect.signature(f).parameters)
        assert not params & {"label", "labels", "seg", "mask", "tissue"}, f.__name__


@pytest.mark.parametrize("name", list(CASES))
def test_intensity_transforms_leave_their_input_as_it_was(name: str) -> None:
    """Nothing in place: a label passed along an image batch (or the image itself) is never written."""
    x, label = _image(), (_image(1) > 2).long()
    x0, label0 = x.clone(), label.clone()
    g = torch.Generator().manual_seed(0)
    unit = robust_unit(x)
    unit0 = unit.clone()
    fn = {"bezier": lambda: random_bezier_map(unit, None, g), "slaug_bezier":
          lambda: random_slaug_bezier_map(unit, torch.ones(B, dtype=torch.bool), g),
          "curve": lambda: random_curve(unit, 5, 0.5, g), "gamma": lambda: random_gamma(x, 0.5, g),
          "jitter": lambda: random_normalization_jitter(x, 0.3, g),
          "location_scale": lambda: random_location_scale(unit, 0.1, 0.5, g),
          "noise": lambda: random_noise(x, 0.2, g), "conv": lambda: random_conv(x, 3, g),
          "gin": lambda: random_gin(x, gen=g), "blur": lambda: random_blur(x, 0.5, 1.5, g),
          "sharpen": lambda: random_sharpen(x, 10.0, 30.0, g),
          "range_gamma": lambda: random_range_gamma(x, 0.5, 4.5, g),
          "smooth_field": lambda: random_smooth_field(tuple(x.shape), 4.0, 0.3, gen=g),
          "clamped_noise": lambda: random_clamped_noise(x, 0.5, g)}[name]
    fn()
    assert torch.equal(x, x0) and torch.equal(unit, unit0) and torch.equal(label, label0)
