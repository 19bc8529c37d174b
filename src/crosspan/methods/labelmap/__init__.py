"""Label-map training: images drawn from tissue label maps inside the training loop (physics-rand, synthseg)."""
