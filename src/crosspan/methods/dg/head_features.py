"""The representation a segmentation network hands its output head, for methods that act on it (RSC, IB-ERM).

In DomainBed a network is ``classifier(featurizer(x))``. A 3D segmentation network has no such split, so the
"features" here are the input of the module that produces the full-resolution logits:

- DynUNet (``nnunet``): ``output_block`` (a 1x1x1 conv; deep-supervision heads are left alone);
- MONAI ``UNet`` (``tiny``) and ``AttentionUnet``: the last module of ``model`` (the top up-sampling layer);
- SegResNet: ``conv_final``; SwinUNETR: ``out``.

:func:`capture_head` records that input during a forward pass; :func:`with_main` swaps the full-resolution output
for one recomputed from (modified) features, keeping the deep-supervision outputs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from crosspan.core.errors import CrosspanError
from crosspan.methods.common import split_outputs


def find_head(net: nn.Module) -> nn.Module:
    """The module that maps the last decoder features to the full-resolution logits (see the module docstring)."""
    for attr in ("output_block", "conv_final", "out"):
        mod = getattr(net, attr, None)
        if isinstance(mod, nn.Module):
            return mod
    model = getattr(net, "model", None)
    if isinstance(model, nn.Sequential) and len(model) > 0:
        return model[-1]
    raise CrosspanError(None, f"no output head found in {type(net).__name__}",
                        "use --network tiny, nnunet, segresnet, swinunetr or attentionunet")


class HeadCapture:
    """Holds the head input of the last forward pass (``features``)."""

    def __init__(self) -> None:
        self.features: torch.Tensor | None = None


@contextlib.contextmanager
def capture_head(head: nn.Module) -> Iterator[HeadCapture]:
    """Record the input of ``head`` for every forward pass inside the block (the latest one is kept)."""
    cap = HeadCapture()

    def hook(_: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        cap.features = inputs[0]

    handle = head.register_forward_pre_hook(hook)
    try:
        yield cap
    finally:
        handle.remove()


def with_main(out: torch.Tensor | list | tuple, main: torch.Tensor, ndim: int) -> list[torch.Tensor]:
    """The network's outputs as a list with the full-resolution output replaced by ``main``."""
    outs = split_outputs(out, ndim)
    if outs[0].shape != main.shape:
        raise CrosspanError(None, f"head output {tuple(main.shape)} differs from the network output "
                            f"{tuple(outs[0].shape)}", "use a network whose last module makes the logits")
    return [main, *outs[1:]]


__all__ = ["HeadCapture", "capture_head", "find_head", "with_main"]
