"""Which test-time branch rule should Dual-Norm use? Scored on validation volumes only.

For a trained Dual-Norm run, every volume of the given catalogs (use validation data: the protocol's ``val`` split
of the default cohort, a stress cohort never scored in a table such as ``--profile stress --seed 300``) is predicted
through each branch; per volume it prints the Dice of each branch, the paper's ``style`` choice, and the terms of
the ``confidence`` rule. The summary gives, per catalog and sequence, the mean Dice each rule would reach (and the
better branch's, the oracle).

    python benchmarks/probes/dualnorm_branch_rules.py RUN_DIR --catalog CSV[:SPLIT_JSON] [--catalog ...] \
        [--out rows.json]

``CSV:SPLIT_JSON`` keeps only the cases of the ``val`` split of that ``crosspan data splits`` file.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crosspan.inference.pipeline import load_run, prepare
from crosspan.methods.dg.dualnorm import DualNormalization
from crosspan.methods.sliding import predict_volume


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(2 * (pred & truth).sum() / max(int(pred.sum() + truth.sum()), 1))


def cases(spec: str) -> list[tuple[str, dict[str, str]]]:
    csv_path, _, splits = spec.partition(":")
    keep = set(json.loads(Path(splits).read_text())["splits"][0]["val"]) if splits else None
    rows = list(csv.DictReader(open(csv_path)))
    return [(Path(csv_path).stem, r) for r in rows if keep is None or r["case_id"] in keep]


def score_volume(m: DualNormalization, image: np.ndarray, truth: np.ndarray, patch: list[int]) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    x = torch.from_numpy(image[None, None].astype(np.float32))
    for rule in ("style", "confidence"):
        m.hparams["select"] = rule
        rec[rule] = m.volume_choice(x, patch, 2)
    chooser = m.volume_choice
    for b in (0, 1):
        m.volume_choice = lambda *_a, b=b, **_k: b  # type: ignore[method-assign]  # force the branch
        p = predict_volume(m, image, patch)[1]
        fg = p > 0.5
        q = np.clip(p, 1e-6, 1 - 1e-6)
        entropy = -(q * np.log(q) + (1 - q) * np.log(1 - q))
        rec[f"dice{b}"] = dice(fg, truth)
        rec[f"fg_voxels{b}"] = int(fg.sum())
        rec[f"fg_entropy{b}"] = float(entropy[fg].mean()) if fg.any() else None
    m.volume_choice = chooser  # type: ignore[method-assign]
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--catalog", action="append", required=True, help="catalog CSV[:splits JSON (val only)]")
    ap.add_argument("--out", help="write the per-volume rows here (JSON)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    run = load_run(a.run_dir)
    m = run.method
    if not isinstance(m, DualNormalization):
        raise SystemExit(f"{a.run_dir}: not a dualnorm run")
    patch = list(run.model.patch_size)
    rows = []
    for spec in a.catalog:
        for group, r in cases(spec):
            pre = prepare(run.plan, r["image"], r["label"])
            assert pre.label is not None
            rec = {"group": group, "case": r["case_id"], "sequence": r["sequence"],
                   **score_volume(m, pre.image, pre.label > 0, patch)}
            rows.append(rec)
            print(json.dumps(rec), flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(rows, indent=1))
    print("group sequence n: mean Dice of the branch each rule chooses")
    for key in sorted({(r["group"], r["sequence"]) for r in rows}):
        sel = [r for r in rows if (r["group"], r["sequence"]) == key]
        means = {rule: np.mean([r[f"dice{r[rule]}"] for r in sel]) for rule in ("style", "confidence")}
        oracle = np.mean([max(r["dice0"], r["dice1"]) for r in sel])
        print(f"{key[0]} {key[1]} n={len(sel)}: style {means['style']:.3f}, confidence {means['confidence']:.3f}, "
              f"better branch {oracle:.3f}")


if __name__ == "__main__":
    main()
