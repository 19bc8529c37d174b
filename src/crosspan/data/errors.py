"""Moved to :mod:`crosspan.core.errors` (issue #21); this re-export goes once no importer is left."""

from crosspan.core.errors import CrosspanError, CrosspanWarning, Problem, warn

__all__ = ["CrosspanError", "CrosspanWarning", "Problem", "warn"]
