"""Intensity and spatial transforms on batches of volumes (B, C, Z, Y, X), shared by methods and training.

TorchIO's convention (Perez-Garcia et al., CMPB 2021): a random transform only draws its parameters (from a
``torch.Generator``, or torch's global generator when ``gen`` is None) and calls a deterministic function with
them; it returns the output and the parameters it drew, so ``f(x, params)`` reproduces a random draw exactly.

* :mod:`crosspan.transforms.batch`: per-sample draws and broadcasting (``coin``, ``uniform``, ``where``).
* :mod:`crosspan.transforms.intensity`: deterministic intensity maps (z-score, Bezier and piecewise-linear
  curves, gamma, gain/shift, location-scale).
* :mod:`crosspan.transforms.random_intensity`: their random counterparts. Intensity transforms never see labels.
* :mod:`crosspan.transforms.spatial` and :mod:`crosspan.transforms.random_spatial`: affine/elastic warps and
  mirroring of image and label together, and resolution randomization.
"""
