"""Registration primitives of the ``paired-sequence`` method (ours, beyond the published work).

When a patient has a labeled scan in the source sequence and an unlabeled one in the target sequence, a rigid
(Euler 3D) registration by Mattes mutual information (Mattes et al., IEEE TMI 2003), which tolerates the contrast
change between sequences, transports the source label onto the target scan as a weak pseudo-label; the final
metric value is recorded. SimpleITK does the work. :mod:`crosspan.preprocess.pairing.pseudo_labels`
(``crosspan ssl pair``) applies them to a fold and weighs each pair; :mod:`crosspan.methods.ssl.paired_sequence`
trains on the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from crosspan.data.io import ImageProperties, to_sitk


@dataclass
class Registration:
    transform: sitk.Euler3DTransform
    metric: float  # final Mattes MI (negative; lower = better aligned)

    @property
    def translation_xyz(self) -> tuple[float, float, float]:
        """Translation in mm, SimpleITK (x, y, z) order."""
        x, y, z = self.transform.GetTranslation()
        return x, y, z


#: metric samples per resolution level and the grid the metric is evaluated on: Mattes MI of a rigid fit is as
#: accurate from ~1e4 random voxels of images binned to ~3 mm as from 30 % of the full-resolution volume (issue #17;
#: benchmarks/speed/ssl_pair_speed.py measures both)
METRIC_SAMPLES = 10000
METRIC_SPACING_MM = 3.0


def binned(img: sitk.Image, spacing_mm: float) -> sitk.Image:
    """``img`` averaged over integer bins so that every axis has a spacing of about ``spacing_mm`` or more."""
    factors = [max(1, int(round(spacing_mm / s))) for s in img.GetSpacing()]
    return sitk.BinShrink(img, factors) if any(f > 1 for f in factors) else img


def register_rigid(fixed: np.ndarray, fixed_props: ImageProperties, moving: np.ndarray,
                   moving_props: ImageProperties, iterations: int = 100, seed: int = 0,
                   samples: int | None = METRIC_SAMPLES, shrink: tuple[int, ...] = (2, 1),
                   smoothing: tuple[float, ...] = (1.0, 0.0), grid_mm: float | None = METRIC_SPACING_MM,
                   learning_rate: float = 2.0, init: str = "geometry") -> Registration:
    """Rigid registration of ``moving`` onto ``fixed`` (arrays in (z, y, x) with their geometry).

    Both images are first binned to about ``grid_mm`` (None: full resolution), then registered over the
    multi-resolution ``shrink`` levels (Gaussian ``smoothing`` sigmas in voxels); at each level the metric is
    evaluated on ``samples`` random voxels of the fixed image (None: 30 % of them, the first version's setting).
    The transform is physical, so it applies to the full-resolution images unchanged. ``init``: ``geometry``
    (the image centers aligned) or ``identity`` (the scanner frame).
    """
    f = sitk.Cast(to_sitk(fixed.astype(np.float32), fixed_props), sitk.sitkFloat32)
    m = sitk.Cast(to_sitk(moving.astype(np.float32), moving_props), sitk.sitkFloat32)
    if grid_mm:
        f, m = binned(f, grid_mm), binned(m, grid_mm)
    start = sitk.Euler3DTransform()
    start.SetCenter(f.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in f.GetSize()]))
    if init == "geometry":
        start = sitk.CenteredTransformInitializer(f, m, start, sitk.CenteredTransformInitializerFilter.GEOMETRY)
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    finest = float(np.prod(f.GetSize())) / float(shrink[-1]) ** 3  # coarser levels: the same share of fewer voxels
    pct = 0.3 if samples is None else float(np.clip(samples / max(finest, 1.0), 1e-4, 1.0))
    reg.SetMetricSamplingPercentage(pct, seed + 1)  # ITK's seed 0 means the wall clock: never reproducible
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(learningRate=learning_rate, minStep=1e-3,
                                                 numberOfIterations=iterations, relaxationFactor=0.7)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel(list(shrink))
    reg.SetSmoothingSigmasPerLevel(list(smoothing))
    reg.SetInitialTransform(start, inPlace=False)
    out = reg.Execute(f, m)
    if isinstance(out, sitk.CompositeTransform):  # SimpleITK wraps the optimized transform
        out = out.GetNthTransform(0)
    return Registration(sitk.Euler3DTransform(out), float(reg.GetMetricValue()))  # the rigid fit, as its type


def scanner_frame() -> Registration:
    """The identity: the source label where the scanner put it (series of one session share patient coordinates)."""
    return Registration(sitk.Euler3DTransform(), 0.0)


def transport_label(label: np.ndarray, label_props: ImageProperties, fixed_props: ImageProperties,
                    registration: Registration) -> np.ndarray:
    """The source ``label`` resampled (nearest neighbour) into the fixed (target) scan's grid."""
    ref = to_sitk(np.zeros(fixed_props.shape, dtype=np.uint8), fixed_props)
    lab = to_sitk(label.astype(np.uint8), label_props)
    out = sitk.Resample(lab, ref, registration.transform, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    return sitk.GetArrayFromImage(out)
