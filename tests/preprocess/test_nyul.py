"""Nyul standardization: landmarks land on the standard scale; affine intensity changes are undone."""

from __future__ import annotations

import numpy as np
import pytest

from crosspan.core.errors import CrosspanError
from crosspan.preprocess.nyul import NyulLandmarks, apply_landmarks, image_landmarks, learn_landmarks


def volume(seed: int, scale: float = 1.0, shift: float = 0.0, gamma: float = 1.0) -> np.ndarray:
    g = np.random.default_rng(seed)
    body = g.gamma(4.0, 25.0, size=(16, 20, 20))
    return (scale * (body / body.max()) ** gamma * 400 + shift).astype(np.float32)


def test_learned_scale_and_mapping() -> None:
    std = learn_landmarks([volume(i) for i in range(4)])
    assert std.landmarks[0] == pytest.approx(0.0) and std.landmarks[-1] == pytest.approx(100.0)
    assert np.all(np.diff(std.landmarks) > 0) and len(std.landmarks) == 11
    a, b = volume(7), volume(7, scale=3.0, shift=500.0)  # same anatomy, different scanner scaling
    na, nb = apply_landmarks(a, std), apply_landmarks(b, std)
    assert np.allclose(na, nb, atol=1e-2)
    assert not np.allclose(a, b)
    lm = image_landmarks(na)
    assert np.allclose(lm, std.landmarks, atol=0.5)  # the image's landmarks now sit on the standard scale


def test_nonlinear_change_is_reduced_and_roundtrip(tmp_path) -> None:
    std = learn_landmarks([volume(i) for i in range(3)])
    a, b = volume(9), volume(9, gamma=1.6)
    fg = a > a.mean()  # the same tissue mask for both contrasts
    raw = np.abs((a - a.mean()) / a.std() - (b - b.mean()) / b.std())[fg].mean()
    na, nb = apply_landmarks(a, std, fg), apply_landmarks(b, std, fg)
    mapped = np.abs(na - nb)[fg].mean() / na[fg].std()
    assert mapped < 0.5 * raw
    std.save(tmp_path / "nyul.json")
    back = NyulLandmarks.load(tmp_path / "nyul.json")
    assert np.allclose(back.landmarks, std.landmarks) and back.percentiles == std.percentiles


def test_bad_input() -> None:
    with pytest.raises(CrosspanError, match="foreground"):
        learn_landmarks([np.zeros((4, 4, 4), np.float32)])
    with pytest.raises(CrosspanError):
        learn_landmarks([])
