"""Unlabeled patches of pseudo-labeled scans contain pseudo-label foreground as often as labeled patches contain
label foreground (the mechanism `paired-sequence` lacked in issue #17); plain unlabeled scans stay uniform."""

from __future__ import annotations

import numpy as np

from crosspan.training.sampling import CaseArrays, PatchSampler, unlabeled_sampler

PATCH = [16, 32, 32]


def _large_fov_case(case_id: str, seed: int, labeled: bool) -> CaseArrays:
    """A 64 x 256 x 256 volume with a small 'gland' (~0.2 % of the voxels), as in a large field of view."""
    g = np.random.default_rng(seed)
    image = g.standard_normal((64, 256, 256)).astype(np.float32)
    mask = np.zeros(image.shape, np.uint8)
    z, y, x = g.integers(20, 40), g.integers(60, 190), g.integers(60, 190)
    mask[z:z + 8, y:y + 24, x:x + 40] = 1
    fg = np.argwhere(mask > 0).astype(np.int32)
    if labeled:
        return CaseArrays(case_id, image, mask, fg, 0)
    return CaseArrays(case_id, image, None, np.zeros((0, 3), np.int32), -1, aux={"pseudo_label": mask})


def _fg_rate(sampler: PatchSampler, key: str, steps: int = 60) -> float:
    hits = [float(b[key][i].any()) for s in range(steps) for b in [sampler.batch(s)] for i in range(len(b[key]))]
    return float(np.mean(hits))


def test_pseudo_labeled_patches_hold_foreground_at_the_labeled_rate() -> None:
    labeled = PatchSampler([_large_fov_case(f"L{i}", i, True) for i in range(3)], PATCH, 4, seed=0)
    unl_cases = [_large_fov_case(f"U{i}", 10 + i, False) for i in range(3)]
    guided = unlabeled_sampler(unl_cases, PATCH, 4, seed=1)
    rate_labeled, rate_guided = _fg_rate(labeled, "label"), _fg_rate(guided, "pseudo_label")
    uniform = PatchSampler(unl_cases, PATCH, 4, seed=1, fg_fraction=0.0)  # what the engine did before
    rate_uniform = _fg_rate(uniform, "pseudo_label")
    assert rate_labeled > 0.25
    assert abs(rate_guided - rate_labeled) < 0.1, (rate_guided, rate_labeled)
    assert rate_uniform < rate_guided / 3


def test_unlabeled_scans_without_pseudo_labels_are_sampled_uniformly() -> None:
    case = _large_fov_case("U0", 0, False)
    plain = CaseArrays(case.case_id, case.image, None, case.fg, -1)
    sampler = unlabeled_sampler([plain], PATCH, 4, seed=0)
    assert sampler.fg_fraction == 0.0 and len(sampler.cases[0].fg) == 0
