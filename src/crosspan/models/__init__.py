"""Network presets on MONAI, selectable by name (CrossPan asks whether the barrier is the architecture).

- ``tiny``: a small MONAI ``UNet`` (8-64 channels, one residual unit a level, strides from spacing) for CPU and CI
  (its strided first layer makes it ~10x cheaper than a DynUNet of the same width on a CPU);
- ``nnunet``: DynUNet configured from patch size and spacing as nnU-Net does (Isensee et al. 2021), deep
  supervision, 32-320 channels;
- ``segresnet`` (Myronenko 2018), ``swinunetr`` (Hatamizadeh et al. 2022), ``attentionunet`` (Oktay et al. 2018).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from crosspan.core.errors import CrosspanError

NETWORKS = ("tiny", "nnunet", "segresnet", "swinunetr", "attentionunet")


def kernels_strides(patch: list[int], spacing: list[float], max_stages: int = 6) -> tuple[list, list]:
    """nnU-Net's rule: downsample an axis while its spacing is within 2x of the finest and its size >= 8."""
    sizes, sp = [float(p) for p in patch], [float(s) for s in spacing]
    kernels, strides = [], [[1, 1, 1]]
    while len(strides) < max_stages:
        ratio = [s / min(sp) for s in sp]
        stride = [2 if r <= 2 and n >= 8 and n % 2 == 0 else 1 for r, n in zip(ratio, sizes, strict=True)]
        if all(s == 1 for s in stride):
            break
        kernels.append([3 if r <= 2 else 1 for r in ratio])
        strides.append(stride)
        sizes = [n / s for n, s in zip(sizes, stride, strict=True)]
        sp = [a * s for a, s in zip(sp, stride, strict=True)]
    kernels.append([3, 3, 3])
    return kernels, strides


def network_config(name: str, patch: list[int], spacing: list[float]) -> dict[str, Any]:
    """A JSON-able config for :func:`build_network` (stored in ``model.json``)."""
    if name not in NETWORKS:
        raise CrosspanError(None, f"unknown network '{name}'", f"use one of: {', '.join(NETWORKS)}")
    if name == "tiny":
        _, s = kernels_strides(patch, spacing, max_stages=4)
        return {"name": name, "channels": [8 * 2**i for i in range(len(s))], "strides": s[1:],
                "num_res_units": 1}
    if name == "nnunet":
        k, s = kernels_strides(patch, spacing, max_stages=6)
        filters = [min(32 * 2**i, 320) for i in range(len(s))]
        return {"name": name, "kernel_size": k, "strides": s, "filters": filters,
                "deep_supervision": True, "deep_supr_num": max(1, min(2, len(s) - 2))}
    if name == "segresnet":
        return {"name": name, "init_filters": 16, "blocks_down": [1, 2, 2, 4], "blocks_up": [1, 1, 1]}
    if name == "swinunetr":
        return {"name": name, "feature_size": 12 if min(patch) < 64 else 24}
    return {"name": name, "channels": [16, 32, 64, 128], "strides": [2, 2, 2]}


def build_network(config: dict[str, Any], in_channels: int = 1, out_channels: int = 2) -> nn.Module:
    """Instantiate the MONAI network described by ``config``."""
    from monai.networks import nets

    name = config["name"]
    if name == "tiny" and "channels" in config:
        # a stride per axis per level: MONAI's UNet takes them although it annotates strides as Sequence[int]
        strides: list[Any] = [tuple(v) for v in config["strides"]]
        return nets.UNet(3, in_channels, out_channels, config["channels"], strides,
                         num_res_units=config["num_res_units"], norm="instance")
    if name in ("nnunet", "tiny"):  # a "tiny" config with kernel_size/filters: the earlier DynUNet preset
        return nets.DynUNet(3, in_channels, out_channels, config["kernel_size"], config["strides"],
                            config["strides"][1:], filters=config["filters"], norm_name="instance",
                            deep_supervision=config["deep_supervision"], deep_supr_num=config["deep_supr_num"],
                            res_block=False)
    if name == "segresnet":
        return nets.SegResNet(3, config["init_filters"], in_channels, out_channels,
                              blocks_down=config["blocks_down"], blocks_up=config["blocks_up"], norm="instance")
    if name == "swinunetr":
        return nets.SwinUNETR(in_channels=in_channels, out_channels=out_channels,
                              feature_size=config["feature_size"], spatial_dims=3)
    if name == "attentionunet":
        return nets.AttentionUnet(3, in_channels, out_channels, config["channels"], config["strides"])
    raise CrosspanError(None, f"unknown network '{name}'", f"use one of: {', '.join(NETWORKS)}")
