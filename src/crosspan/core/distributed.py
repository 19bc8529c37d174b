"""Data parallel training through ``torchrun`` (WORLD_SIZE/RANK set): gloo on CPU, NCCL on GPU.

Every rank draws its own batches (the sampler seed includes the rank), gradients are averaged with
``all_reduce`` inside :meth:`SupervisedMethod.step`, and rank 0 alone writes logs and checkpoints.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import torch
import torch.distributed as dist


def init_distributed(device: str) -> tuple[int, int]:
    """``(rank, world_size)``; initializes the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return dist.get_rank(), world


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def average_gradients(params: Iterable[torch.nn.Parameter]) -> None:
    """Average gradients over ranks (no-op when not distributed)."""
    if not is_distributed():
        return
    world = dist.get_world_size()
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad /= world


def broadcast_parameters(module: torch.nn.Module) -> None:
    """Start every rank from rank 0's weights."""
    if is_distributed():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, 0)


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def shutdown() -> None:
    if is_distributed():
        dist.destroy_process_group()
