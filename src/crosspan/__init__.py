"""crosspan: cross-sequence and cross-center generalization of MRI pancreas segmentation."""

__version__ = "0.1.0"
