"""A tiny, randomly initialised nnU-Net v2 results folder (``plans.json``, ``dataset.json``,
``fold_N/checkpoint_final.pth``), the layout MRSegmentator and TotalSegmentator load their weights from.

The plans use nnU-Net's original 3d_fullres keys (``UNet_class_name`` ...), which nnunetv2 2.2.1 reads as they
are and 2.3+ converts; the network is a 2-stage ``PlainConvUNet`` with 4/8 features, built by the package's own
Python (``dynamic_network_architectures`` lives in the package's environment, not necessarily in crosspan's).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

PATCH = [32, 32, 32]  # one tile for the test scans

BUILD = r'''
import sys, torch
from torch import nn
from dynamic_network_architectures.architectures.unet import PlainConvUNet
out, n_classes, boost, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.manual_seed(seed)
net = PlainConvUNet(1, 2, [4, 8], nn.Conv3d, [[3, 3, 3], [3, 3, 3]], [[1, 1, 1], [2, 2, 2]], [1, 1], n_classes, [1],
                    conv_bias=True, norm_op=nn.InstanceNorm3d, norm_op_kwargs={"eps": 1e-5, "affine": True},
                    nonlin=nn.LeakyReLU, nonlin_kwargs={"inplace": True})
with torch.no_grad():  # centre each class's logit on a z-scored input, then favour one class a little: the argmax
    logits = net.eval()(torch.randn(1, 1, 32, 32, 32))  # varies over several classes, the boosted one among them
    net.decoder.seg_layers[-1].bias -= logits.mean(dim=(0, 2, 3, 4))
    net.decoder.seg_layers[-1].bias[boost] += 0.5 * float(logits.std())
torch.save({"network_weights": net.state_dict(), "trainer_name": "nnUNetTrainer",
            "init_args": {"configuration": "3d_fullres"}, "inference_allowed_mirroring_axes": (0, 1, 2)}, out)
'''


def plans(spacing: tuple[float, float, float]) -> dict:
    """nnU-Net plans with one small ``3d_fullres`` configuration at ``spacing`` (z, y, x)."""
    resample = "resample_data_or_seg_to_shape"
    return {
        "dataset_name": "Dataset999_Tiny", "plans_name": "nnUNetPlans",
        "original_median_spacing_after_transp": list(spacing), "original_median_shape_after_transp": [24, 24, 24],
        "image_reader_writer": "SimpleITKIO", "transpose_forward": [0, 1, 2], "transpose_backward": [0, 1, 2],
        "experiment_planner_used": "ExperimentPlanner", "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {"0": {
            "max": 1000.0, "mean": 300.0, "median": 300.0, "min": 0.0, "percentile_00_5": 5.0,
            "percentile_99_5": 900.0, "std": 100.0}},
        "configurations": {"3d_fullres": {
            "data_identifier": "nnUNetPlans_3d_fullres", "preprocessor_name": "DefaultPreprocessor",
            "batch_size": 2, "patch_size": PATCH, "median_image_size_in_voxels": [24, 24, 24],
            "spacing": list(spacing), "normalization_schemes": ["ZScoreNormalization"], "use_mask_for_norm": [False],
            "UNet_class_name": "PlainConvUNet", "UNet_base_num_features": 4, "unet_max_num_features": 8,
            "n_conv_per_stage_encoder": [1, 1], "n_conv_per_stage_decoder": [1], "num_pool_per_axis": [1, 1, 1],
            "pool_op_kernel_sizes": [[1, 1, 1], [2, 2, 2]], "conv_kernel_sizes": [[3, 3, 3], [3, 3, 3]],
            "resampling_fn_data": resample, "resampling_fn_seg": resample, "resampling_fn_probabilities": resample,
            "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None},
            "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, "order_z": 0, "force_separate_z": None},
            "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, "order_z": 0,
                                                   "force_separate_z": None},
            "batch_dice": False}},
    }


def write_model(folder: Path, labels: dict[str, int], python: Path, boost: str,
                spacing: tuple[float, float, float] = (2.0, 1.5, 1.5), folds: tuple[int, ...] = (0,),
                seed: int = 0) -> Path:
    """Write a results folder for ``labels`` (name -> id, with ``background: 0``); ``boost`` names the class
    whose output bias is raised. ``python`` is the package environment's interpreter."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plans.json").write_text(json.dumps(plans(spacing), indent=1))
    (folder / "dataset.json").write_text(json.dumps({
        "channel_names": {"0": "MRI"}, "labels": labels, "numTraining": 1, "file_ending": ".nii.gz"}))
    for fold in folds:
        (folder / f"fold_{fold}").mkdir(exist_ok=True)
        ckpt = folder / f"fold_{fold}" / "checkpoint_final.pth"
        res = subprocess.run([str(python), "-c", BUILD, str(ckpt), str(len(labels)), str(labels[boost]),
                              str(seed + fold)], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
    return folder


__all__ = ["PATCH", "plans", "write_model"]
