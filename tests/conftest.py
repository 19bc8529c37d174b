"""Shared test setup. ``tests/`` mirrors ``src/crosspan/`` (``tests/<stage>/test_*.py``, packages so that a test
can reuse another's helpers as ``tests.<stage>.test_x``); the data builders every stage shares (``data_builders``,
``toy_scans``, ``nnunet_tiny``, ``example_results``) sit beside this file and are importable by their bare names."""

from __future__ import annotations

import sys
from pathlib import Path

_BUILDERS = str(Path(__file__).resolve().parent)
if _BUILDERS not in sys.path:
    sys.path.insert(0, _BUILDERS)
