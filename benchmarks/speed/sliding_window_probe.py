"""Sliding-window time vs bare network time, memory layout and sw_batch_size (CPU, random weights).

Usage: ``.venv/bin/python benchmarks/speed/sliding_window_probe.py`` (results: benchmarks/results/engine.md).
"""

from __future__ import annotations

import time

import torch
from monai.inferers import sliding_window_inference

from crosspan.models import build_network, network_config

VOLUME, PATCH, SPACING = (57, 126, 163), (32, 64, 64), [3.0, 1.5, 1.5]


def timed(net: torch.nn.Module, x: torch.Tensor, sw_batch: int, channels_last: bool) -> float:
    layout = torch.channels_last_3d if channels_last else torch.contiguous_format
    net = net.to(memory_format=layout)

    def forward(t: torch.Tensor) -> torch.Tensor:
        return net(t.contiguous(memory_format=layout))

    start = time.perf_counter()
    with torch.inference_mode():
        sliding_window_inference(x, PATCH, sw_batch, forward, overlap=0.5, mode="gaussian")
    return time.perf_counter() - start


def main() -> None:
    torch.set_num_threads(2)
    x = torch.randn(1, 1, *VOLUME)
    for preset in ("nnunet", "tiny"):
        net = build_network(network_config(preset, list(PATCH), SPACING)).eval()
        with torch.inference_mode():
            for _ in range(2):  # warm-up, then one timed tile
                start = time.perf_counter()
                net(torch.randn(1, 1, *PATCH))
        print(f"{preset}: one tile {time.perf_counter() - start:.2f} s", flush=True)
        for sw_batch, cl in [(2, True), (2, False), (1, False), (1, True)]:
            print(f"{preset}: sw_batch {sw_batch} channels_last {cl}: {timed(net, x, sw_batch, cl):.2f} s", flush=True)


if __name__ == "__main__":
    main()
