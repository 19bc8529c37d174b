"""Training methods behind one registry (after DomainBed): ERM, domain generalization, semi-supervised, label-map
training, zero-shot models; and a method's whole-volume sliding-window prediction (``sliding``)."""

from crosspan.methods.base import (
    Method,
    ZeroShotModel,
    get_method,
    method_names,
    register_method,
    trainable_method,
    zero_shot_model,
)

__all__ = ["Method", "ZeroShotModel", "get_method", "method_names", "register_method", "trainable_method",
           "zero_shot_model"]
