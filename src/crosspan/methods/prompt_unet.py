"""Prompt U-Net: a segmentation network that takes the image plus box and point prompt channels, after the
box+point prompt U-Net of the CrossPan authors' nnU-Net fork (NUBagciLab/nnUNetDG, ``Generic_PromptUNet``;
prompt channels as in interactive 3D segmentation, e.g. DeepIGeoS, Wang et al., IEEE TPAMI 2019).

Input channels: the image, a **box** channel (1 inside the 3D bounding box of the pancreas, 0 outside) and a
**point** channel (a ball of ``point_radius`` voxels at the foreground voxel nearest the mask's centroid). Every
convolution that reads the raw input gets the two extra channels (network surgery: the image weights are kept,
the prompt weights start at the default initialization). Training derives the prompts from each patch's label,
the box jittered by up to ``jitter`` of its size per face; with probability ``p_no_prompt`` a sample gets empty
prompt channels. At test time the prompt source is ``prompt``: ``oracle-box`` (box and point from the ground truth)
or ``jittered-box`` (the same box jittered once, seeded by ``seed``) are **oracle**: they use the test labels, and
:meth:`PromptUNet.uses_oracle` says so, so a benchmark marks the results ``oracle``; ``none`` gives empty prompt
channels (fully automatic, meaningful for a model trained with ``p_no_prompt > 0``).

Differences: the authors' model encodes prompts with a transformer prompt encoder and fine-tunes a pretrained
U-Net; here the prompts are extra input channels of any crosspan network, trained from scratch with Dice+CE.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from crosspan.core.errors import CrosspanError
from crosspan.methods.base import Batch, register_method
from crosspan.methods.common import SupervisedMethod, update_supervised
from crosspan.methods.foundation.prompts import is_oracle
from crosspan.methods.hparams import NON_NEGATIVE, PROBABILITY, Bound

PROMPT_SOURCES = ("oracle-box", "jittered-box", "none")
N_PROMPTS = 2  # box, point


def _triple(v: tuple[int, ...]) -> tuple[int, int, int]:
    """A ``Conv3d`` per-axis setting as the 3-tuple its constructor is typed with."""
    z, y, x = v
    return z, y, x


def widen_input_convs(net: nn.Module, extra: int) -> int:
    """Give every ``Conv3d`` that reads the 1-channel input ``extra`` more input channels (in place); the count."""
    n = 0
    for name, mod in list(net.named_modules()):
        if isinstance(mod, nn.Conv3d) and mod.in_channels == 1:
            padding = mod.padding if isinstance(mod.padding, str) else _triple(mod.padding)
            new = nn.Conv3d(1 + extra, mod.out_channels, _triple(mod.kernel_size), _triple(mod.stride), padding,
                            _triple(mod.dilation), mod.groups, mod.bias is not None, mod.padding_mode)
            with torch.no_grad():
                new.weight[:, :1].copy_(mod.weight)
                if mod.bias is not None and new.bias is not None:
                    new.bias.copy_(mod.bias)
            parent = net.get_submodule(name.rsplit(".", 1)[0]) if "." in name else net
            setattr(parent, name.rsplit(".", 1)[-1], new)
            n += 1
    return n


def prompt_channels(label: torch.Tensor, jitter: float = 0.0, radius: int = 2,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, 2, Z, Y, X) box and point channels from a (B, 1, Z, Y, X) label; empty where the label is empty."""
    b, shape = label.shape[0], label.shape[2:]
    out = torch.zeros(b, N_PROMPTS, *shape, device=label.device)
    grids = torch.meshgrid(*[torch.arange(n, device=label.device) for n in shape], indexing="ij")
    for i in range(b):
        idx = (label[i, 0] > 0).nonzero()
        if idx.shape[0] == 0:
            continue
        lo, hi = idx.min(0).values.float(), idx.max(0).values.float() + 1
        if jitter > 0:
            size = hi - lo
            u = torch.rand(2, 3, generator=generator).to(label.device) * 2 - 1
            lo, hi = lo + u[0] * jitter * size, hi + u[1] * jitter * size
        lo = lo.round().clamp(min=0)
        hi = torch.maximum(hi.round(), lo + 1)
        box = torch.ones(shape, dtype=torch.bool, device=label.device)
        for g, a, c in zip(grids, lo, hi, strict=True):
            box &= (g >= a) & (g < c)
        point = idx[(idx.float() - idx.float().mean(0)).pow(2).sum(1).argmin()]
        ball = sum((g - p).float() ** 2 for g, p in zip(grids, point, strict=True)) <= radius ** 2
        out[i, 0], out[i, 1] = box.float(), ball.float()
    return out


@register_method
class PromptUNet(SupervisedMethod):
    name = "prompt-unet"
    paper: ClassVar[str] = "the box+point prompt U-Net of the CrossPan authors' code (NUBagciLab/nnUNetDG)"
    default_hparams: ClassVar[dict[str, Any]] = {**SupervisedMethod.default_hparams, "prompt": "oracle-box",
                                                 "jitter": 0.1, "point_radius": 2, "p_no_prompt": 0.0, "seed": 0}
    hparam_bounds: ClassVar[dict[str, Bound]] = {"jitter": Bound(0.0, 1.0), "point_radius": NON_NEGATIVE,
                                                 "p_no_prompt": PROBABILITY}
    hparam_ranges: ClassVar[dict[str, str]] = {"prompt": " | ".join(PROMPT_SOURCES)}
    forward_passes = 1
    #: the engine's input has one channel; these are appended (``predict``) or built from labels (inference)
    prompt_inputs: ClassVar[int] = N_PROMPTS
    prompted: ClassVar[bool] = True

    def __init__(self, network: nn.Module, domains: list[str], hparams: dict[str, Any] | None = None) -> None:
        super().__init__(network, domains, hparams)
        if self.hparams["prompt"] not in PROMPT_SOURCES:
            raise CrosspanError(None, f"unknown prompt source '{self.hparams['prompt']}'",
                                f"use --hp prompt=<{'|'.join(PROMPT_SOURCES)}>")
        if widen_input_convs(self.network, N_PROMPTS) == 0:
            raise CrosspanError(None, "prompt-unet found no convolution reading the 1-channel input",
                                "use --network tiny, nnunet, segresnet, swinunetr or attentionunet")

    @classmethod
    def uses_oracle(cls, hparams: dict[str, Any]) -> bool:
        """Test-time prompts from the ground truth (``oracle-box``, ``jittered-box``) make oracle results."""
        return is_oracle(str(hparams.get("prompt", cls.default_hparams["prompt"])))

    def test_prompts(self, label: np.ndarray) -> np.ndarray:
        """(2, Z, Y, X) prompt channels for a preprocessed (Z, Y, X) label, from the ``prompt`` source."""
        hp = self.hparams
        lab = torch.from_numpy(np.asarray(label) > 0)[None, None]
        if hp["prompt"] == "none":
            return np.zeros((N_PROMPTS, *lab.shape[2:]), dtype=np.float32)
        jitter = float(hp["jitter"]) if hp["prompt"] == "jittered-box" else 0.0
        gen = torch.Generator().manual_seed(int(hp["seed"]))
        return prompt_channels(lab, jitter, int(hp["point_radius"]), gen)[0].numpy().astype(np.float32)

    def with_prompts(self, labeled: Batch) -> Batch:
        """The batch with the image extended by prompt channels built from its labels."""
        hp = self.hparams
        prompts = prompt_channels(labeled["label"], float(hp["jitter"]), int(hp["point_radius"]))
        drop = torch.rand(prompts.shape[0], device=prompts.device) < float(hp["p_no_prompt"])
        prompts[drop] = 0
        image = torch.cat([labeled["image"], prompts.to(labeled["image"].dtype)], 1)
        return {**labeled, "image": image}

    def update(self, labeled: Batch, unlabeled: Batch | None = None) -> dict[str, float]:
        return update_supervised(self, self.with_prompts(labeled))

    @torch.no_grad()
    def predict(self, image: torch.Tensor) -> torch.Tensor:
        """Probabilities for (B, 3, ...) image+prompt tiles; a (B, 1, ...) image gets empty prompt channels."""
        if image.shape[1] == 1:
            image = torch.cat([image, image.new_zeros(image.shape[0], N_PROMPTS, *image.shape[2:])], 1)
        return super().predict(image)


__all__ = ["PROMPT_SOURCES", "PromptUNet", "prompt_channels", "widen_input_convs"]
