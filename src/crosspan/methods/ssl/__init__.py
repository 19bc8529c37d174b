"""Semi-supervised methods: labeled source batches plus unlabeled (target-sequence) batches."""
