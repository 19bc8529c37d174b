"""ERM: plain supervised training (Vapnik 1998; the DomainBed baseline, Gulrajani & Lopez-Paz, ICLR 2021).

The pooled training domains are treated as one distribution; the loss and optimizer are nnU-Net's (Dice + CE,
SGD momentum 0.99 with poly LR, or AdamW with ``--hp optimizer=adamw``).
"""

from __future__ import annotations

from typing import ClassVar

from crosspan.methods.base import Batch, register_method
from crosspan.methods.common import SupervisedMethod, update_supervised


@register_method
class ERM(SupervisedMethod):
    name = "erm"
    table_order: ClassVar[int] = 0  # the baseline: first row of every result table

    def update(self, labeled: Batch, unlabeled: Batch | None = None) -> dict[str, float]:
        return update_supervised(self, labeled)
