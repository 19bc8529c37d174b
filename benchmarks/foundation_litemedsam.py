"""LiteMedSAM zero-shot Dice per sequence on the synthetic cohort, per prompt source, and seconds per volume on CPU.

    .venv/bin/python benchmarks/foundation_litemedsam.py /tmp/fm --per-sequence 1 --threads 2 \
        -o benchmarks/results/foundation.md

Builds the cohort (``crosspan synth cohort DIR -n 6 --shape small --seed 0``) if DIR is missing, keeps the first
``--per-sequence`` test cases of each sequence, runs ``crosspan predict --method litemedsam`` for each prompt and
scores with ``crosspan evaluate --oracle`` (both prompts are derived from the ground truth: results are oracle).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

CLI = [str(Path(sys.executable).parent / "crosspan")]


def sh(*args: str) -> None:
    print("$ crosspan " + " ".join(args), flush=True)
    subprocess.run([*CLI, *args], check=True)


def md_table(df: pd.DataFrame) -> str:
    cells = [[f"{v:.3f}" if isinstance(v, float) else str(v) for v in r] for r in df.itertuples(index=False)]
    head = "| " + " | ".join(df.columns) + " |\n|" + "---|" * len(df.columns)
    return head + "\n" + "\n".join("| " + " | ".join(r) + " |" for r in cells)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cohort", type=Path)
    ap.add_argument("--per-sequence", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompts", default="oracle-box,jittered-box")
    ap.add_argument("--jitter", type=float, default=0.1)
    ap.add_argument("-o", "--output", type=Path, default=Path("benchmarks/results/foundation.md"))
    a = ap.parse_args()
    if not a.cohort.exists():
        sh("synth", "cohort", str(a.cohort), "-n", "6", "--shape", "small", "--seed", "0")
    work = a.cohort.parent / (a.cohort.name + "_foundation")
    work.mkdir(exist_ok=True)
    cat_csv = work / "catalog.csv"
    sh("data", "catalog", str(a.cohort), "-o", str(cat_csv))
    cat = pd.read_csv(cat_csv)
    sub = cat[cat["split"] == "test"].sort_values("case_id").groupby("sequence").head(a.per_sequence)
    sub_csv = work / "subset.csv"
    sub.to_csv(sub_csv, index=False)
    rows, lines = [], []
    for prompt in a.prompts.split(","):
        pred, res = work / f"pred-{prompt}", work / f"results-{prompt}.csv"
        sh("predict", "--method", "litemedsam", str(sub_csv), "-o", str(pred), "--cases", "test", "--threads",
           str(a.threads), "--hp", f"prompt={prompt}", "--hp", f"jitter={a.jitter}")
        info = json.loads((pred / "zeroshot.json").read_text())
        sh("evaluate", str(sub_csv), "--pred", str(pred), "--method", f"litemedsam[{prompt}]", "--cases", "test",
           "--oracle", "--workers", "1", "-o", str(res))
        df = pd.read_csv(res)
        for seq, g in df.groupby("sequence"):
            rows.append({"prompt": prompt, "sequence": seq, "n": len(g), "dice_mean": g["dice"].mean(),
                         "dice_min": g["dice"].min(), "oracle": bool(g["oracle"].all()),
                         "s_per_volume": info["seconds_per_volume"]})
    table = pd.DataFrame(rows)
    lines += ["# Foundation models, zero-shot (LiteMedSAM)", "",
              "Command: `.venv/bin/python benchmarks/foundation_litemedsam.py " + " ".join(sys.argv[1:]) + "`", "",
              f"Synthetic cohort `{a.cohort}` (`crosspan synth cohort {a.cohort} -n 6 --shape small --seed 0`), "
              f"first {a.per_sequence} test case(s) per sequence, CPU, torch threads {a.threads}. Both prompt "
              "sources are derived from the ground truth: **all results are oracle** (`oracle=True` in every row).",
              "", md_table(table), ""]
    a.output.parent.mkdir(parents=True, exist_ok=True)
    a.output.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
