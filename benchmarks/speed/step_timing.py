"""Shared set-up for the step-time benchmarks: methods on one network, and fixed batches, as the engine feeds them."""

from __future__ import annotations

from collections.abc import Callable

import torch

from crosspan.methods.base import trainable_method
from crosspan.models import build_network, network_config


def build_methods(names: list[str], network: str, patch: int, domains: list[str],
                  device: torch.device) -> dict[str, torch.nn.Module]:
    """Each method on an identically initialised network in channels-last 3D, ready to train."""
    cfg = network_config(network, [patch] * 3, [1.0, 1.0, 1.0])
    methods = {}
    for n in names:
        torch.manual_seed(0)
        m = trainable_method(n)(build_network(cfg), domains).to(device)
        m.network.to(memory_format=torch.channels_last_3d)  # as the engine does
        m.setup_training(1000)
        m.train()
        methods[n] = m
    return methods


def fixed_batches(make: Callable[[int, int, int], dict], b: int, patch: int, n: int,
                  device: torch.device) -> list[dict]:
    """``n`` batches from ``make(batch, patch, seed)`` on ``device``, images in channels-last 3D."""
    data = [{k: v.to(device) for k, v in make(b, patch, s).items()} for s in range(n)]
    for d in data:
        d["image"] = d["image"].contiguous(memory_format=torch.channels_last_3d)
    return data
