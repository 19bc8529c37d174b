"""Training engine: patch sampling, checkpoints, the loop (spatial augmentation from :mod:`crosspan.transforms`,
validation with :mod:`crosspan.methods.sliding`, the run's documents from :mod:`crosspan.runs`)."""
