"""Registration primitives of the ``paired-sequence`` method (ours, beyond the published work).

When a patient has a labeled scan in the source sequence and an unlabeled one in the target sequence, a rigid
(Euler 3D) registration by Mattes mutual information (Mattes et al., IEEE TMI 2003), which tolerates the contrast
change between sequences, transports the source label onto the target scan as a weak pseudo-label; the final
metric value is recorded. SimpleITK does the work. ``crosspan.methods.ssl.pairing`` (``crosspan ssl pair``) applies
them to a fold and weighs each pair; ``crosspan.methods.ssl.paired_method`` trains on the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from crosspan.data.io import ImageProperties, to_sitk


@dataclass
class Registration:
    transform: sitk.Transform
    metric: float  # final Mattes MI (negative; lower = better aligned)

    @property
    def translation_xyz(self) -> tuple[float, float, float]:
        """Translation in mm, SimpleITK (x, y, z) order."""
        return tuple(self.transform.GetTranslation())  # type: ignore[attr-defined, return-value]


def register_rigid(fixed: np.ndarray, fixed_props: ImageProperties, moving: np.ndarray,
                   moving_props: ImageProperties, iterations: int = 200, seed: int = 0) -> Registration:
    """Rigid registration of ``moving`` onto ``fixed`` (arrays in (z, y, x) with their geometry)."""
    f = sitk.Cast(to_sitk(fixed.astype(np.float32), fixed_props), sitk.sitkFloat32)
    m = sitk.Cast(to_sitk(moving.astype(np.float32), moving_props), sitk.sitkFloat32)
    init = sitk.CenteredTransformInitializer(f, m, sitk.Euler3DTransform(),
                                             sitk.CenteredTransformInitializerFilter.GEOMETRY)
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(0.3, seed)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(learningRate=2.0, minStep=1e-3, numberOfIterations=iterations,
                                                 relaxationFactor=0.7)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel([2, 1])
    reg.SetSmoothingSigmasPerLevel([1.0, 0.0])
    reg.SetInitialTransform(init, inPlace=False)
    out = reg.Execute(f, m)
    if isinstance(out, sitk.CompositeTransform):  # SimpleITK wraps the optimized transform
        out = out.GetNthTransform(0)
    return Registration(out, float(reg.GetMetricValue()))


def transport_label(label: np.ndarray, label_props: ImageProperties, fixed_props: ImageProperties,
                    registration: Registration) -> np.ndarray:
    """The source ``label`` resampled (nearest neighbour) into the fixed (target) scan's grid."""
    ref = to_sitk(np.zeros(fixed_props.shape, dtype=np.uint8), fixed_props)
    lab = to_sitk(label.astype(np.uint8), label_props)
    out = sitk.Resample(lab, ref, registration.transform, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    return sitk.GetArrayFromImage(out)
