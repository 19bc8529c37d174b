"""Evaluation: metrics in the DeepMind surface-distance convention, transfer types, scoring prediction folders."""

from crosspan.evaluation.metrics import CONVENTION, compute_metrics
from crosspan.evaluation.transfer import transfer_type

__all__ = ["CONVENTION", "compute_metrics", "transfer_type"]
