"""The base floor: helpers every stage may import and that import nothing of crosspan above them.

Atomic writes (``atomic``), seeds (``seeding``), worker pools with progress (``parallel``), the one error type
(``errors``), Dice (``dice``), Gaussian blur (``blur``), connected components (``components``), mixed precision
(``amp``) and data-parallel helpers (``distributed``).
"""
