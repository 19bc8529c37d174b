"""Quality of the transported pseudo-labels of `crosspan ssl pair`, against the target scans' true labels (read
here, for the benchmark only; the pairing command never reads them): Dice per target sequence, and how well the
registration weight (forward/backward agreement) ranks it (Spearman rho).

    .venv/bin/python benchmarks/probes/ssl_paired_quality.py COHORT runs/ssl_paired/pair-r*/pairs.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from scipy.stats import spearmanr

from crosspan.core.dice import dice
from crosspan.data.catalog import catalog_from
from crosspan.data.io import read_image


def main(cohort: str, paths: list[str]) -> str:
    cat = catalog_from(cohort, progress=False).set_index("case_id")
    lines = ["| pairs file | target | n paired | pseudo-label Dice vs truth, mean [min, max] | weight mean "
             "[min, max] | Spearman(weight, Dice) |", "|---|---|---|---|---|---|"]
    for path in paths:
        df = pd.read_csv(path, keep_default_na=False)
        df = df[df["source"] != ""].copy()
        dices = []
        for case, pl in zip(df["case_id"], df["pseudo_label"], strict=True):
            truth, _ = read_image(cat.loc[case, "label"])
            pseudo, _ = read_image(pl)
            dices.append(dice(pseudo, truth, empty=0.0))
        df["dice"] = dices
        df["target"] = [cat.loc[c, "sequence"] for c in df["case_id"]]
        for seq, g in df.groupby("target"):
            w = g["weight"].astype(float)
            rho = spearmanr(w, g["dice"]).statistic if len(g) > 2 and w.nunique() > 1 else float("nan")
            lines.append(f"| {Path(path).parent.name} | {seq} | {len(g)} | {g['dice'].mean():.3f} "
                         f"[{g['dice'].min():.3f}, {g['dice'].max():.3f}] | {w.mean():.3f} [{w.min():.3f}, "
                         f"{w.max():.3f}] | {rho:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(main(sys.argv[1], sys.argv[2:]))
