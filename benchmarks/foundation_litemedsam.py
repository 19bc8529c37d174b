"""LiteMedSAM zero-shot Dice per sequence for each prompt source, next to ERM's cross-sequence Dice on the same
cases, with 95 % patient-bootstrap CIs, and seconds per volume on CPU.

    benchmarks/foundation_erm.sh /tmp/fm3 1        # cohort, ERM (tiny, 600 steps, T1) and its test Dice
    .venv/bin/python benchmarks/foundation_litemedsam.py /tmp/fm3 --patients 3 --threads 1 \
        -o benchmarks/results/foundation.md

Uses WORK/cohort, WORK/run and WORK/results-erm.csv from ``foundation_erm.sh``. Keeps the first ``--patients``
test patients (each scanned as T1, T2 and OOP), runs ``crosspan predict --method litemedsam`` per prompt source
(a prompt whose ``zeroshot.json`` exists is not run again) and scores with ``crosspan evaluate`` (``--oracle`` for
the ground-truth-derived prompts). Statistics: ``crosspan.evaluation.stats.aggregate`` (patients resampled).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from crosspan.evaluation.stats import aggregate, load_results

CLI = [str(Path(sys.executable).parent / "crosspan")]
ORACLE = {"oracle-box": True, "jittered-box": True, "model-box": False}


def sh(*args: str) -> None:
    print("$ crosspan " + " ".join(args), flush=True)
    subprocess.run([*CLI, *args], check=True)


def md_table(df: pd.DataFrame) -> str:
    cells = [[f"{v:.3f}" if isinstance(v, float) else str(v) for v in r] for r in df.itertuples(index=False)]
    head = "| " + " | ".join(df.columns) + " |\n|" + "---|" * len(df.columns)
    return head + "\n" + "\n".join("| " + " | ".join(r) + " |" for r in cells)


def subset(work: Path, patients: int) -> tuple[Path, pd.DataFrame]:
    """The first ``patients`` test patients of the cohort, every sequence (a catalog CSV)."""
    cat_csv = work / "catalog.csv"
    if not cat_csv.exists():
        sh("data", "catalog", str(work / "cohort"), "-o", str(cat_csv))
    cat = pd.read_csv(cat_csv, dtype={"patient_id": str})
    test = cat[cat["split"] == "test"]
    keep = sorted(test["patient_id"].unique())[:patients]
    sub = test[test["patient_id"].isin(keep)].sort_values(["patient_id", "sequence"])
    sub_csv = work / f"subset-{patients}.csv"
    sub.to_csv(sub_csv, index=False)
    return sub_csv, sub


def run_prompt(work: Path, sub_csv: Path, prompt: str, a: argparse.Namespace) -> tuple[Path, dict]:
    pred, res = work / f"pred-lms-{prompt}", work / f"results-lms-{prompt}.csv"
    if a.partial and not (pred / "zeroshot.json").exists():  # a predict stopped early: score what it wrote
        done = {f.name.removesuffix(".nii.gz") for f in pred.glob("*.nii.gz")}
        part = work / f"subset-partial-{prompt}.csv"
        pd.read_csv(sub_csv).query("case_id in @done").to_csv(part, index=False)
        sh("evaluate", str(part), "--pred", str(pred), "--method", f"litemedsam[{prompt}]", "--cases", "test",
           "--run", prompt, *(["--oracle"] if ORACLE[prompt] else []), "--workers", "1", "-o", str(res))
        user, system, _ = map(float, (work / f"time-lms-{prompt}.txt").read_text().split()[-3:])
        return res, {"seconds_per_volume": float("nan"), "cases": len(done),
                     "cpu_s_per_volume": (user + system) / len(done)}
    if not (pred / "zeroshot.json").exists():
        hp = ["--hp", f"prompt={prompt}", "--hp", f"jitter={a.jitter}"]
        if prompt == "model-box":
            hp += ["--hp", f"box_model={work / 'run'}"]
        timing = work / f"time-lms-{prompt}.txt"  # CPU seconds of the whole predict process (load-independent)
        cmd = ["predict", "--method", "litemedsam", str(sub_csv), "-o", str(pred), "--cases", "test", "--threads",
               str(a.threads), *hp]
        print("$ crosspan " + " ".join(cmd), flush=True)
        subprocess.run(["/usr/bin/time", "-f", "%U %S %e", "-o", str(timing), *CLI, *cmd], check=True)
    if not res.exists():
        sh("evaluate", str(sub_csv), "--pred", str(pred), "--method", f"litemedsam[{prompt}]", "--cases", "test",
           "--run", prompt, *(["--oracle"] if ORACLE[prompt] else []), "--workers", "1", "-o", str(res))
    info = json.loads((pred / "zeroshot.json").read_text())
    user, system, wall = map(float, (work / f"time-lms-{prompt}.txt").read_text().split()[-3:])
    info["cpu_s_per_volume"] = (user + system) / info["cases"]
    return res, info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("work", type=Path, help="Folder of benchmarks/foundation_erm.sh (cohort, run, results-erm.csv).")
    ap.add_argument("--patients", type=int, default=3, help="Test patients kept (each in every sequence).")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--prompts", default="oracle-box,jittered-box,model-box")
    ap.add_argument("--jitter", type=float, default=0.1)
    ap.add_argument("--n-boot", type=int, default=2000)
    ap.add_argument("--partial", action="store_true", help="Score the masks of predict runs stopped early.")
    ap.add_argument("-o", "--output", type=Path, default=Path("benchmarks/results/foundation.md"))
    a = ap.parse_args()
    sub_csv, sub = subset(a.work, a.patients)
    paths, seconds, cpu = [], {}, {}
    for prompt in a.prompts.split(","):
        res, info = run_prompt(a.work, sub_csv, prompt, a)
        paths.append(res)
        seconds[f"litemedsam[{prompt}]"] = info["seconds_per_volume"]
        cpu[f"litemedsam[{prompt}]"] = info["cpu_s_per_volume"]
    df, _ = load_results(paths)
    common = set.intersection(*(set(g["case_id"]) for _, g in df.groupby("method")))  # every row on the same cases
    df, sub = df[df["case_id"].isin(common)], sub[sub["case_id"].isin(common)]
    erm, _ = load_results([a.work / "results-erm.csv"])
    erm = erm[erm["case_id"].isin(common)]
    all_erm, _ = load_results([a.work / "results-erm.csv"])
    table = aggregate(pd.concat([erm, df], ignore_index=True), ["method", "sequence"], ["dice"], a.n_boot)
    erm_all = aggregate(all_erm, ["method", "sequence"], ["dice"], a.n_boot)
    lines = ["# Foundation models, zero-shot (LiteMedSAM) next to ERM", "",
             "Commands: `benchmarks/foundation_erm.sh " + str(a.work) + " 1` then `.venv/bin/python "
             "benchmarks/foundation_litemedsam.py " + " ".join(sys.argv[1:]) + "`", "",
             f"Same {len(sub)} test scans for every row: patients {', '.join(sorted(sub['patient_id'].unique()))}, "
             "each as T1, T2 and OOP. ERM = tiny preset trained 600 steps on A:T1 + B:T1, so T1 is in-domain and "
             "T2/OOP are cross-sequence. Dice mean with 95 % bootstrap CI (patients resampled, "
             f"{a.n_boot} replicates). oracle-box and jittered-box prompts come from the ground truth: **oracle**.", "",
             md_table(pd.DataFrame({
                 "method": table["method"], "sequence": table["sequence"], "n": table["n"],
                 "dice_mean": table["dice_mean"], "ci_low": table["dice_ci_low"], "ci_high": table["dice_ci_high"],
                 "dice_min": [df_min(pd.concat([erm, df]), m, s) for m, s in zip(table["method"], table["sequence"],
                                                                                 strict=True)],
                 "oracle": table["oracle"], "s_per_volume": [seconds.get(m, float("nan")) for m in table["method"]],
                 "cpu_s_per_volume": [cpu.get(m, float("nan")) for m in table["method"]]})),
             "", "ERM on every test scan of the cohort (for context):", "",
             md_table(erm_all[["method", "sequence", "n", "dice_mean", "dice_ci_low", "dice_ci_high"]]), ""]
    a.output.parent.mkdir(parents=True, exist_ok=True)
    a.output.write_text("\n".join(lines))
    print("\n".join(lines))


def df_min(df: pd.DataFrame, method: str, sequence: str) -> float:
    return float(df.loc[(df["method"] == method) & (df["sequence"] == sequence), "dice"].min())


if __name__ == "__main__":
    main()
