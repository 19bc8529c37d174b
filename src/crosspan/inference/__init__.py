"""Inference: sliding window with Gaussian blending, mirror TTA, post-processing, back to source geometry."""
