"""Prediction speed options: contiguous layout on a CPU (method layout restored), bf16 autocast, the --amp check."""

from __future__ import annotations

import numpy as np
import torch

from crosspan.methods.base import get_method
from crosspan.methods.sliding import inference_layout, memory_layout, predict_volume
from crosspan.models import build_network, network_config

PATCH = [16, 32, 32]


def _is_channels_last(module: torch.nn.Module) -> bool:
    return any(p.dim() == 5 and not p.is_contiguous() and p.is_contiguous(memory_format=torch.channels_last_3d)
               for p in module.parameters())


def _method() -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = network_config("nnunet", PATCH, [2.0, 1.0, 1.0])
    cfg["filters"] = [4, 8, 16, 16, 16][: len(cfg["strides"])]
    return get_method("erm")(build_network(cfg), ["A:T1"], {})


def test_cpu_predicts_contiguous_gpu_channels_last() -> None:
    assert inference_layout(torch.device("cpu")) == torch.contiguous_format
    assert inference_layout(torch.device("cuda")) == torch.channels_last_3d


def test_layout_is_switched_inside_and_restored_after() -> None:
    method = _method().to(memory_format=torch.channels_last_3d)
    assert _is_channels_last(method)
    with memory_layout(method, torch.contiguous_format):
        assert not _is_channels_last(method)
    assert _is_channels_last(method)
    plain = _method()
    with memory_layout(plain, torch.channels_last_3d):
        assert _is_channels_last(plain)
    assert not _is_channels_last(plain)


def test_prediction_equals_channels_last_prediction_and_keeps_training_layout() -> None:
    method = _method().to(memory_format=torch.channels_last_3d)
    method.train()
    image = np.random.default_rng(0).standard_normal((20, 40, 44)).astype(np.float32)
    prob = predict_volume(method, image, PATCH)
    assert _is_channels_last(method) and method.training  # validation during training gets its network back
    from monai.inferers import sliding_window_inference

    method.eval()
    with torch.no_grad():
        ref = sliding_window_inference(
            torch.from_numpy(image)[None, None].contiguous(memory_format=torch.channels_last_3d), tuple(PATCH), 2,
            lambda t: method.predict(t.contiguous(memory_format=torch.channels_last_3d)), overlap=0.5,
            mode="gaussian")[0].numpy()
    assert prob.shape == (2, *image.shape)
    np.testing.assert_allclose(prob, ref, atol=1e-4)


def test_amp_option_is_checked_and_warns_where_slow(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    import pytest
    import typer

    from crosspan.cli import common

    with pytest.raises(typer.Exit):
        common.check_amp("fp8", "cpu")
    monkeypatch.setattr(common, "cpu_has_fast_bf16", lambda: False)
    common.check_amp("bf16", "cpu")
    assert "slower than fp32" in capsys.readouterr().err
    common.check_amp("bf16", "cuda")
    common.check_amp("none", "cpu")
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(common, "cpu_has_fast_bf16", lambda: True)
    common.check_amp("bf16", "cpu")
    assert capsys.readouterr().err == ""


def test_bf16_prediction_on_cpu_agrees_with_fp32() -> None:
    method = _method()
    image = np.random.default_rng(1).standard_normal((20, 40, 44)).astype(np.float32)
    p32 = predict_volume(method, image, PATCH)
    p16 = predict_volume(method, image, PATCH, amp="bf16")
    assert p16.dtype == np.float32 and p16.shape == p32.shape
    assert np.abs(p16 - p32).max() < 0.05  # bf16 keeps ~3 significant digits
    assert not np.array_equal(p16, p32)  # the autocast acted
