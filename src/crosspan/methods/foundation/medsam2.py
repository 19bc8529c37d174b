"""MedSAM2 zero-shot (Ma et al., "MedSAM2: Segment Anything in 3D Medical Images and Videos", 2025): SAM2's
video predictor run over the slices of a volume from one box.

Protocol (REFERENCE.md section 5, as MedSAM2's 3D inference script): window to the 0.5-99.5 percentiles, slices
to RGB at 512 x 512 with ImageNet normalisation, one box on the key slice (largest box area), propagate forward,
reset, propagate backward from the same prompt, union, largest connected component. The "video" is the prompt's
z-extent. Needs the ``sam2`` package and the user's checkpoint (``--hp checkpoint=/path/to/MedSAM2.pt``); nothing
is downloaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from crosspan.core.components import largest_component
from crosspan.core.errors import CrosspanError
from crosspan.methods.base import register_method
from crosspan.methods.foundation.common import PROMPT_HPARAMS, ZeroShotMethod, mask_boxes_to_slices, window
from crosspan.methods.foundation.prompts import Box2D, key_slice, propagation_order

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CHECKPOINT_FIX = "give the MedSAM2 checkpoint: --hp checkpoint=/path/to/MedSAM2.pt (download it yourself; " \
                 "crosspan never downloads weights)"


def _import_sam2() -> Any:
    try:
        from sam2.build_sam import build_sam2_video_predictor
    except ImportError as err:
        raise CrosspanError(None, f"MedSAM2 needs the package sam2 ({err})",
                            "SAM2_BUILD_CUDA=0 pip install -c constraints.txt --no-build-isolation sam2") from err
    return build_sam2_video_predictor


def build_predictor(config: str, checkpoint: str | None, image_size: int, device: str = "cpu") -> Any:
    """SAM2's video predictor from a packaged config at ``image_size``; ``checkpoint=None`` leaves it randomly
    initialised (tests only)."""
    build = _import_sam2()
    if checkpoint is not None and not Path(checkpoint).is_file():
        raise CrosspanError(checkpoint, "MedSAM2 checkpoint not found", CHECKPOINT_FIX)
    return build(config, checkpoint, device=device, hydra_overrides_extra=[f"++model.image_size={image_size}"])


def to_frames(volume01: np.ndarray, size: int) -> torch.Tensor:
    """(N, y, x) slices in [0, 1] -> (N, 3, size, size) RGB frames, ImageNet-normalised (MedSAM2's input)."""
    x = torch.from_numpy(np.ascontiguousarray(volume01, dtype=np.float32))[:, None]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


@contextmanager
def _frames_as_video(frames: torch.Tensor, height: int, width: int) -> Iterator[None]:
    """Let ``init_state`` take in-memory frames (upstream sam2 reads JPEG folders or mp4 files)."""
    import sam2.sam2_video_predictor as vp

    original = vp.load_video_frames
    vp.load_video_frames = lambda *a, compute_device=None, **k: (frames.to(compute_device), height, width)
    try:
        yield
    finally:
        vp.load_video_frames = original


@register_method
class MedSAM2(ZeroShotMethod):
    """Box on the key slice, forward and backward propagation with SAM2's memory, union, largest component."""

    name: ClassVar[str] = "medsam2"
    default_hparams: ClassVar[dict[str, Any]] = {**PROMPT_HPARAMS, "checkpoint": "",
                                                 "config": "configs/sam2.1/sam2.1_hiera_t.yaml", "image_size": 512}

    def __init__(self, hparams: dict[str, Any] | None = None, device: str = "cpu", predictor: Any = None) -> None:
        super().__init__(hparams, device)
        if predictor is None:
            if not self.hparams["checkpoint"]:
                raise CrosspanError(None, "MedSAM2 needs a checkpoint", CHECKPOINT_FIX)
            predictor = build_predictor(self.hparams["config"], self.hparams["checkpoint"],
                                        int(self.hparams["image_size"]), device)
        self.network = predictor

    @classmethod
    def unavailable_reason(cls, hparams: dict[str, Any] | None = None) -> str | None:
        import importlib.util

        from crosspan.methods.base import resolve_hparams

        checkpoint = str(resolve_hparams(cls, hparams)["checkpoint"])
        if not checkpoint or not Path(checkpoint).is_file():
            return "no MedSAM2 checkpoint (--hp checkpoint=/path/to/MedSAM2.pt)"
        return "package sam2 not installed" if importlib.util.find_spec("sam2") is None else None

    @torch.inference_mode()
    def segment(self, image: np.ndarray, boxes: dict[int, Box2D]) -> np.ndarray:
        z0, z1 = mask_boxes_to_slices(boxes)
        key = key_slice(boxes)
        h, w = image.shape[1:]
        frames = to_frames(window(image)[z0:z1], int(self.hparams["image_size"]))
        y0, x0, y1, x1 = boxes[key]
        box = np.array([x0, y0, x1, y1], dtype=np.float32)
        pred = self.network
        with _frames_as_video(frames, h, w):
            state = pred.init_state(video_path="<in-memory>")
        out = np.zeros(image.shape, dtype=bool)
        forward, backward = propagation_order(key, z0, z1)
        for order, reverse in ((forward, False), (backward, True)):
            pred.add_new_points_or_box(state, frame_idx=key - z0, obj_id=1, box=box)
            for idx, _ids, logits in pred.propagate_in_video(state, start_frame_idx=key - z0,
                                                             max_frame_num_to_track=len(order) - 1, reverse=reverse):
                out[z0 + idx] |= (logits[0, 0] > 0).cpu().numpy()
            pred.reset_state(state)
        return largest_component(out).astype(bool)


__all__ = ["CHECKPOINT_FIX", "MedSAM2", "build_predictor", "to_frames"]
