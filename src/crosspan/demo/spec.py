"""The demo's benchmark spec: a small synthetic cohort (3 centers x T1/T2/OOP), ERM and a DG method trained on T1
from two centers, scored in-domain, cross-center and cross-sequence on the cohort's test split (an in-distribution
upper bound) and on the stress suite beside it (``crosspan synth cohort --profile stress``, never trained on).

The defaults are sized to run in about 15 minutes on 2 CPU cores (see BENCHMARKS.md for the measured figure).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DemoSettings:
    patients: int = 48
    centers: tuple[str, ...] = ("A", "B", "C")
    sequences: tuple[str, ...] = ("T1", "T2", "OOP")
    train: tuple[str, ...] = ("A:T1", "B:T1")
    methods: tuple[str, ...] = ("erm", "contrast-inversion")
    steps: int = 1500
    batch_size: int = 2
    patch: tuple[int, int, int] = (32, 64, 64)
    seed: int = 0
    jobs: int = 2
    shape: str = "small"
    stress_patients: int = 12  # the stress suite's patients (seed 100, default size, as every spec's); 0: none
    hp: dict[str, dict[str, Any]] = field(default_factory=dict)


def demo_spec(s: DemoSettings) -> dict[str, Any]:
    """The spec as plain YAML-ready data (``output`` is the spec file's own folder)."""
    return {
        "name": "crosspan-demo",
        "output": ".",
        "dataset": {"synthetic": {"patients": s.patients, "centers": list(s.centers),
                                  "sequences": list(s.sequences), "seed": s.seed, "shape": s.shape}},
        "protocols": [{"name": "xseq", "protocol": "cross-sequence", "train": list(s.train), "targets": ["*:*"],
                       "seed": s.seed}],
        "methods": [{"name": m, "method": m, **({"hp": s.hp[m]} if m in s.hp else {})} for m in s.methods],
        "seeds": [s.seed],
        "label_ratios": [100],
        "training": {"steps": s.steps, "batch_size": s.batch_size, "patch": list(s.patch), "network": "tiny"},
        "evaluation": {"tolerance": 2.0, "metrics": ["dice", "nsd", "hd95"]},
        "executor": {"kind": "local", "jobs": s.jobs, "threads_per_job": 1},
        **({"test_datasets": [{"name": "stress", "synthetic": {"profile": "stress", "patients": s.stress_patients,
                                                                "seed": 100, "shape": "default"}}]}
           if s.stress_patients else {}),
    }
