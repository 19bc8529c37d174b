"""Random intensity transforms: each draws its parameters, calls its deterministic map from
:mod:`crosspan.transforms.intensity` and returns ``(output, parameters)``.

``gen`` is a ``torch.Generator`` on the batch's device, or None for torch's global generator. Draws happen in a
fixed order, so one seed gives one augmentation.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from crosspan.core.blur import gaussian_blur
from crosspan.transforms.batch import coin, rand, randn, uniform
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
    sharpen,
    smooth_field,
)


class BezierParams(NamedTuple):
    """Inner control points (B, 2) of a Bezier intensity map, and which samples are inverted (or None)."""

    inner_x: torch.Tensor
    inner_y: torch.Tensor
    inverted: torch.Tensor | None


class GainShift(NamedTuple):
    """One multiplicative gain and one additive shift (B,) a sample."""

    gain: torch.Tensor
    shift: torch.Tensor


class GINParams(NamedTuple):
    """The layers ``(weight, bias)`` of one GIN network (every sample its own, as groups) and the blend (B,)."""

    layers: list[tuple[torch.Tensor, torch.Tensor]]
    alpha: torch.Tensor


class Noise(NamedTuple):
    """One std (B,) a sample and the unit-variance noise field it scales."""

    std: torch.Tensor
    noise: torch.Tensor


def random_bezier_map(x01: torch.Tensor, inverted: torch.Tensor | None = None,
                      gen: torch.Generator | None = None) -> tuple[torch.Tensor, BezierParams]:
    """Monotonic cubic Bezier map of [0, 1] intensities (Zhou et al., CVPR 2022): two inner control points with
    sorted x and sorted y drawn from U(0, 1); decreasing where ``inverted``."""
    inner = rand((x01.shape[0], 2, 2), x01, gen).sort(dim=1).values  # x and y sorted
    p = BezierParams(inner[:, :, 0], inner[:, :, 1], inverted)
    return bezier_map(x01, *p), p


def random_slaug_bezier_map(x01: torch.Tensor, monotonic: torch.Tensor,
                            gen: torch.Generator | None = None) -> tuple[torch.Tensor, BezierParams]:
    """SLAug's Bezier map (Su et al., AAAI 2023): sorted inner x; inner y sorted only where ``monotonic`` (B,) is
    True, so elsewhere the curve may fall."""
    b = x01.shape[0]
    ix = rand((b, 2), x01, gen).sort(1).values
    iy = rand((b, 2), x01, gen)
    iy = torch.where(monotonic[:, None], iy.sort(1).values, iy)
    p = BezierParams(ix, iy, None)
    return bezier_map(x01, *p), p


def random_blur(x: torch.Tensor, sigma_min: float, sigma_max: float, gen: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian blur with a sigma (voxels) drawn from U(sigma_min, sigma_max) per sample (BigAug)."""
    sigma = uniform(x.shape[0], sigma_min, sigma_max, x, gen)
    return gaussian_blur(x, sigma), sigma


def random_sharpen(x: torch.Tensor, alpha_min: float, alpha_max: float, gen: torch.Generator | None = None
                   ) -> tuple[torch.Tensor, GainShift]:
    """Unsharp masking with sigma ~ U(0.5, 1) and alpha ~ U(alpha_min, alpha_max) per sample (BigAug; MONAI's
    RandGaussianSharpen). The parameters come back as (sigma, alpha)."""
    b = x.shape[0]
    sigma = uniform(b, 0.5, 1.0, x, gen)
    alpha = uniform(b, alpha_min, alpha_max, x, gen)
    return sharpen(x, sigma, alpha), GainShift(sigma, alpha)


def random_range_gamma(x: torch.Tensor, gamma_min: float, gamma_max: float, gen: torch.Generator | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """BigAug's gamma contrast: g ~ U(gamma_min, gamma_max) per sample on min-max rescaled intensities."""
    g = uniform(x.shape[0], gamma_min, gamma_max, x, gen)
    return range_gamma(x, g), g


def random_curve(x01: torch.Tensor, knots: int, p_invert: float,
                 gen: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Random piecewise-linear map of [0, 1] intensities: ``knots`` evenly spaced knots with U(0, 1) values (slopes
    of either sign), a full inversion ``1 - x`` with probability ``p_invert``. Returns the knot values (B, K)."""
    b = x01.shape[0]
    fp = rand((b, knots), x01, gen)
    inv = coin(b, p_invert, x01, gen)
    xp = torch.linspace(0, 1, knots, device=x01.device, dtype=x01.dtype).expand(b, knots)
    fp = torch.where(inv[:, None], 1 - xp, fp)
    return piecewise_linear(x01, fp), fp


def random_gamma(img: torch.Tensor, std: float, gen: torch.Generator | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """SynthSeg's random gamma (Billot et al., MedIA 2023): g = exp(N(0, std)) per sample through
    :func:`~crosspan.transforms.intensity.gamma`. ``std`` <= 0 returns the image and g = 1 without drawing."""
    b = img.shape[0]
    if std <= 0:
        return img, torch.ones(b, device=img.device)
    g = torch.exp(std * torch.randn(b, generator=gen, device=img.device))
    return gamma(img, g), g


def random_normalization_jitter(x: torch.Tensor, amount: float, gen: torch.Generator | None = None
                                ) -> tuple[torch.Tensor, GainShift]:
    """x * exp(U(-a, a)) + U(-a, a) per sample (z-units), a = ``amount``; ``amount`` <= 0 draws nothing."""
    b = x.shape[0]
    if amount <= 0:
        return x, GainShift(torch.ones(b, device=x.device), torch.zeros(b, device=x.device))
    gain = torch.exp(-amount + 2 * amount * torch.rand(b, generator=gen, device=x.device))
    shift = -amount + 2 * amount * torch.rand(b, generator=gen, device=x.device)
    p = GainShift(gain, shift)
    return gain_shift(x, *p), p


def random_location_scale(x01: torch.Tensor, scale_std: float = 0.1, shift_std: float = 0.5,
                          gen: torch.Generator | None = None) -> tuple[torch.Tensor, GainShift]:
    """SLAug's location-scale (Su et al., AAAI 2023): s ~ N(1, scale_std) clipped to [0.9, 1.1], l ~ N(0,
    shift_std) (clipped in :func:`~crosspan.transforms.intensity.location_scale` to keep the median in [0, 1])."""
    b = x01.shape[0]
    s = (1 + scale_std * randn((b,), x01, gen)).clamp(0.9, 1.1)
    loc = shift_std * randn((b,), x01, gen)
    return location_scale(x01, s, loc), GainShift(s, loc)


def random_noise(x: torch.Tensor, max_std: float, gen: torch.Generator | None = None) -> tuple[torch.Tensor, Noise]:
    """Additive Gaussian noise with a std drawn from U(0, max_std) per sample."""
    p = Noise(max_std * rand((x.shape[0],), x, gen), randn(tuple(x.shape), x, gen))
    return add_noise(x, *p), p


def _choice(options: tuple[int, ...], gen: torch.Generator | None) -> int:
    """One of ``options`` drawn on the generator's device (the CPU for the global generator)."""
    device = gen.device if gen is not None else None
    return options[int(torch.randint(len(options), (1,), generator=gen, device=device))]


def random_kernel_size(sizes: tuple[int, ...], gen: torch.Generator | None = None) -> int:
    """One kernel size drawn uniformly from ``sizes`` (one for the whole batch)."""
    return _choice(sizes, gen)


def random_conv(x: torch.Tensor, kernel_size: int, gen: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """RandConv's random convolution (Xu et al., ICLR 2021): Kaiming-normal weights N(0, 1/(C k^3)), fresh per
    sample, through :func:`~crosspan.transforms.intensity.conv_view`. Returns the weights (B*C, C, k, k, k)."""
    b, c = x.shape[:2]
    k = kernel_size
    w = randn((b * c, c, k, k, k), x, gen) / (c * k**3) ** 0.5
    return conv_view(x, w), w


def random_gin(x: torch.Tensor, n_layers: int = 4, interm: int = 2, kernel_sizes: tuple[int, ...] = (1, 3),
               slope: float = 0.2, gen: torch.Generator | None = None) -> tuple[torch.Tensor, GINParams]:
    """One GIN view per sample (Ouyang et al., IEEE TMI 2022): ``n_layers`` conv layers with a kernel size drawn
    per layer from ``kernel_sizes``, ``interm`` intermediate channels, N(0, 1) weights and biases, blended with
    the input by alpha ~ U(0, 1) (:func:`~crosspan.transforms.intensity.gin_view`)."""
    b, c = x.shape[:2]
    layers, cin = [], c
    for i in range(n_layers):
        cout = c if i == n_layers - 1 else interm
        k = _choice(kernel_sizes, gen)
        layers.append((randn((b * cout, cin, k, k, k), x, gen), randn((b * cout,), x, gen)))
        cin = cout
    p = GINParams(layers, rand((b,), x, gen))
    return gin_view(x, p.layers, p.alpha, slope), p


def random_smooth_field(shape: tuple[int, ...], grid: float = 24.0, epsilon: float = 0.3,
                        device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                        gen: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """GIN-IPA's random blend mask for a (B, C, Z, Y, X) ``shape``: control points U(-eps, eps) every ``grid``
    voxels through :func:`~crosspan.transforms.intensity.smooth_field`. Returns (field, control points)."""
    b, spatial = shape[0], tuple(shape[2:])
    ctrl = [max(2, int(round(s / grid)) + 1) for s in spatial]
    pts = (torch.rand(b, 1, *ctrl, generator=gen, device=device, dtype=dtype) * 2 - 1) * epsilon
    return smooth_field(pts, spatial), pts


def random_clamped_noise(x: torch.Tensor, std: float, gen: torch.Generator | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian noise of ``std`` clipped to +-2 std (:func:`~crosspan.transforms.intensity.add_clamped_noise`);
    ``std`` <= 0 returns ``x`` and draws nothing. Returns the unit noise field it drew."""
    if std <= 0:
        return x, torch.zeros_like(x)
    noise = randn(tuple(x.shape), x, gen)
    return add_clamped_noise(x, std, noise), noise
