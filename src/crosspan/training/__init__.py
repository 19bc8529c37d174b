"""Training engine: patch sampling, spatial augmentation, checkpoints, the loop."""
