"""Paired-sequence pseudo-labels, an offline data step (``crosspan ssl pair``): :mod:`.registration` registers a
patient's labeled source scan onto its unlabeled target scan and transports the label; :mod:`.pseudo_labels` does
that for a fold and weighs each pair. The ``paired-sequence`` SSL method
(:mod:`crosspan.methods.ssl.paired_sequence`) trains on the result."""
