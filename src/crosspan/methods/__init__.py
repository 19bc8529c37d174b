"""Training methods behind one registry (after DomainBed): ERM, domain generalization, semi-supervised, zero-shot."""

from crosspan.methods.base import Method, get_method, method_names, register_method

__all__ = ["Method", "get_method", "method_names", "register_method"]
