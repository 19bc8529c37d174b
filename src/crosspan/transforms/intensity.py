"""Deterministic intensity maps of a batch (B, C, Z, Y, X): every parameter is an argument, one value a sample.

The random transforms of :mod:`crosspan.transforms.random_intensity` draw these parameters. None of them sees a
label: an intensity transform changes the image only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from crosspan.core.blur import gaussian_blur
from crosspan.transforms.batch import EPS, bshape, spatial_dims


def zscore(x: torch.Tensor) -> torch.Tensor:
    """Per-sample, per-channel standardization (the input convention of the engine)."""
    d = spatial_dims(x)
    return (x - x.mean(d, keepdim=True)) / (x.std(d, keepdim=True) + EPS)


def minmax(x: torch.Tensor) -> torch.Tensor:
    """Per-sample, per-channel rescaling to [0, 1]."""
    flat = x.flatten(2)
    lo = flat.min(-1).values[..., None, None, None]
    hi = flat.max(-1).values[..., None, None, None]
    return (x - lo) / (hi - lo + EPS)


def robust_unit(x: torch.Tensor, q: float = 0.005, sample: int = 32768) -> torch.Tensor:
    """Per-sample rescaling to [0, 1] by the q / 1-q quantiles (estimated on a strided subsample), clipped."""
    flat = x.flatten(1)
    sub = flat[:, :: max(1, flat.shape[1] // sample)]
    qs = torch.quantile(sub, torch.tensor([q, 1 - q], device=x.device, dtype=x.dtype), dim=1)
    lo, hi = bshape(qs[0], x.ndim), bshape(qs[1], x.ndim)
    return ((x - lo) / (hi - lo + 1e-6)).clamp(0, 1)


def interp1d(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Batched piecewise-linear interpolation: ``x`` (B, ...) through knots ``xp``/``fp`` (B, K), xp increasing.

    Values outside [xp[0], xp[-1]] are clamped to the end values.
    """
    b = x.shape[0]
    flat = x.reshape(b, -1).contiguous()
    idx = torch.searchsorted(xp.contiguous(), flat).clamp(1, xp.shape[1] - 1)
    x0, x1 = xp.gather(1, idx - 1), xp.gather(1, idx)
    y0, y1 = fp.gather(1, idx - 1), fp.gather(1, idx)
    w = ((flat - x0) / (x1 - x0).clamp_min(EPS)).clamp(0, 1)
    return (y0 + w * (y1 - y0)).reshape(x.shape)


def piecewise_linear(x01: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Map [0, 1] intensities through ``K`` evenly spaced knots with values ``fp`` (B, K)."""
    b, k = fp.shape
    xp = torch.linspace(0, 1, k, device=x01.device, dtype=x01.dtype).expand(b, k)
    return interp1d(x01, xp, fp)


def bezier_curve(ctrl_x: torch.Tensor, ctrl_y: torch.Tensor, n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Points of cubic Bezier curves (B, n) from 4 control points per sample (B, 4); x must be monotonic in t."""
    t = torch.linspace(0, 1, n, device=ctrl_x.device, dtype=ctrl_x.dtype)[None]
    basis = [(1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t**2 * (1 - t), t**3]
    xs = sum((bb * ctrl_x[:, i : i + 1] for i, bb in enumerate(basis)), torch.zeros_like(t))
    ys = sum((bb * ctrl_y[:, i : i + 1] for i, bb in enumerate(basis)), torch.zeros_like(t))
    return xs, ys


def bezier_map(x01: torch.Tensor, inner_x: torch.Tensor, inner_y: torch.Tensor,
               inverted: torch.Tensor | None = None) -> torch.Tensor:
    """Cubic Bezier map of [0, 1] intensities from (0, 0) to (1, 1) through inner control points (B, 2) each
    (Zhou et al., CVPR 2022; Su et al., AAAI 2023); flipped to 1 - y where ``inverted`` (B,) is True."""
    b, dev, dt = x01.shape[0], x01.device, x01.dtype
    zeros, ones = torch.zeros(b, 1, device=dev, dtype=dt), torch.ones(b, 1, device=dev, dtype=dt)
    xs, ys = bezier_curve(torch.cat([zeros, inner_x, ones], 1), torch.cat([zeros, inner_y, ones], 1))
    if inverted is not None:
        ys = torch.where(inverted[:, None], 1 - ys, ys)
    return interp1d(x01, xs, ys)


def gamma(img: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """x -> q (x / q)^g per sample (B,), q the sample's 99th percentile (on a subsample): SynthSeg's gamma on a
    magnitude image, which keeps the intensity scale."""
    b = img.shape[0]
    flat = img.reshape(b, -1).float()
    stride = max(1, flat.shape[1] // 32768)
    q = torch.quantile(flat[:, ::stride], 0.99, dim=1).clamp_min(1e-6).reshape(-1, 1, 1, 1, 1)
    return (q * (img.float().clamp_min(0) / q) ** g.reshape(-1, 1, 1, 1, 1)).to(img.dtype)


def range_gamma(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Gamma contrast of min-max rescaled intensities mapped back to each sample's range (BigAug), g (B,)."""
    flat = x.flatten(1)
    lo, hi = bshape(flat.min(1).values, x.ndim), bshape(flat.max(1).values, x.ndim)
    return lo + (hi - lo) * ((x - lo) / (hi - lo + 1e-6)).clamp(0, 1) ** bshape(g, x.ndim)


def gain_shift(x: torch.Tensor, gain: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """x * gain + shift, one gain and shift (B,) a sample."""
    return x * bshape(gain, x.ndim).to(x.dtype) + bshape(shift, x.ndim).to(x.dtype)


def sharpen(x: torch.Tensor, sigma: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Unsharp masking (as MONAI's GaussianSharpen): blur by ``sigma`` (B,), blur that again by 0.5, amplify the
    difference by ``alpha`` (B,)."""
    blurred = gaussian_blur(x, sigma)
    blurred2 = gaussian_blur(blurred, torch.full((x.shape[0],), 0.5, device=x.device, dtype=x.dtype))
    return blurred + bshape(alpha, x.ndim) * (blurred - blurred2)


def add_noise(x: torch.Tensor, std: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """x + std * noise: a unit-variance field ``noise`` (x's shape) scaled by one std (B,) a sample."""
    return x + bshape(std, x.ndim) * noise


def add_clamped_noise(x: torch.Tensor, std: float, noise: torch.Tensor) -> torch.Tensor:
    """x + std * noise with the added noise clipped to +-2 std (Mean Teacher's input noise, Tarvainen & Valpola,
    NeurIPS 2017, as the SSL4MIS code draws it)."""
    return x + (std * noise).clamp(-2 * std, 2 * std)


def location_scale(x01: torch.Tensor, scale: torch.Tensor, loc: torch.Tensor) -> torch.Tensor:
    """SLAug's location-scale map (Su et al., AAAI 2023): x * s + l clipped to [0, 1], with l (B,) clipped so the
    sample's median (on a subsample) stays in [0, 1]."""
    med = x01.flatten(1)[:, :: max(1, x01[0].numel() // 32768)].median(1).values
    loc = torch.maximum(torch.minimum(loc, 1 - med), -med)
    return (x01 * bshape(scale, x01.ndim) + bshape(loc, x01.ndim)).clamp(0, 1)


def conv_view(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """A per-sample conv3d (C -> C channels) with ``weight`` (B*C, C, k, k, k), 'same' padding (reflect): one
    grouped convolution over the batch (RandConv, Xu et al., ICLR 2021)."""
    b, c = x.shape[:2]
    pad = weight.shape[-1] // 2
    y = x.reshape(1, b * c, *x.shape[2:])
    if pad:
        y = F.pad(y, [pad] * 6, mode="reflect")
    y = F.conv3d(y.contiguous(memory_format=torch.channels_last_3d), weight, groups=b)  # channels-last: oneDNN
    return y.contiguous().reshape(x.shape)


def gin_view(x: torch.Tensor, layers: list[tuple[torch.Tensor, torch.Tensor]], alpha: torch.Tensor,
             slope: float = 0.2) -> torch.Tensor:
    """GIN's shallow random network (Ouyang et al., IEEE TMI 2022): conv layers ``(weight (B*Cout, Cin, k, k, k),
    bias (B*Cout,))`` with replicate padding and LeakyReLU between them, blended with the input by ``alpha`` (B,)
    and rescaled to each sample's input Frobenius norm."""
    b = x.shape[0]
    y = x.reshape(1, b * x.shape[1], *x.shape[2:])
    for i, (w, bias) in enumerate(layers):
        k = w.shape[-1]
        y = F.pad(y, [k // 2] * 6, mode="replicate") if k > 1 else y
        # channels-last makes the grouped 3D convolution ~10x faster on CPU (oneDNN)
        y = F.conv3d(y.contiguous(memory_format=torch.channels_last_3d), w, bias, groups=b)
        if i < len(layers) - 1:
            y = F.leaky_relu(y, slope)
    y = y.reshape(x.shape)
    mixed = bshape(alpha) * y + (1 - bshape(alpha)) * x
    in_norm = x.flatten(1).norm(dim=1)
    out_norm = mixed.flatten(1).norm(dim=1)
    return mixed * bshape(in_norm / (out_norm + 1e-5))


def smooth_field(points: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """A (B, 1, Z, Y, X) field in [0, 1]: control ``points`` (B, 1, cz, cy, cx) upsampled (trilinear, corners
    aligned) to the spatial ``shape`` and min-max rescaled per sample (GIN-IPA's blend mask, Ouyang et al. 2022)."""
    return minmax(F.interpolate(points, size=tuple(shape), mode="trilinear", align_corners=True))
