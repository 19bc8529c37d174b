#!/usr/bin/env bash
# Does bf16 autocast on a CPU cost accuracy? The `nnunet` preset + ERM trained twice on the same plan and seed,
# fp32 and `--amp bf16` (each on THREADS threads, run side by side), then predicted in the same precision and
# evaluated on the in-domain test scans (A:T1, B:T1). Reuses WORKDIR/plan and WORKDIR/cohort of
# benchmarks/probes/engine_quality.sh when present.
# Usage: benchmarks/probes/engine_bf16_quality.sh WORKDIR [STEPS=300] [THREADS=1]
set -euo pipefail
W=${1:?WORKDIR}
STEPS=${2:-300}
T=${3:-1}
CP=${CROSSPAN:-crosspan}
mkdir -p "$W"
[ -f "$W/cohort/manifest.csv" ] || $CP synth cohort "$W/cohort" -n 48 --centers A,B,C --sequences T1,T2,OOP --seed 1 --workers 1
[ -f "$W/plan/plan.json" ] || $CP preprocess "$W/cohort" -o "$W/plan" --train-domains A:T1,B:T1 --cases split --workers 1
python3 - "$W" <<'PY'
import csv, sys
w = sys.argv[1]
rows = list(csv.DictReader(open(f"{w}/cohort/manifest.csv")))
keep = [r for r in rows if r["split"] == "test" and r["sequence"] == "T1" and r["center"] in ("A", "B")]
root = f"{w}/cohort/"
for r in keep:  # absolute paths: the subset catalog lives outside the cohort folder
    for k in ("image", "label"):
        if r.get(k) and not r[k].startswith("/"):
            r[k] = root + r[k]
with open(f"{w}/test_in_domain.csv", "w", newline="") as f:
    out = csv.DictWriter(f, fieldnames=list(rows[0]))
    out.writeheader()
    out.writerows(keep)
print(f"{len(keep)} in-domain test scans")
PY
for AMP in none bf16; do
  ( /usr/bin/time -f "%e s wall" $CP train "$W/plan" -o "$W/run_$AMP" --network nnunet --patch 32,64,64 \
      --steps "$STEPS" --threads "$T" --hp optimizer=adamw --hp lr=0.003 --val-every 0 --ckpt-every 50 \
      --amp "$AMP" --resume > "$W/train_$AMP.log" 2>&1 ) &
done
wait
for AMP in none bf16; do
  grep -v "━" "$W/train_$AMP.log" | tail -n 2
  /usr/bin/time -f "%e s wall" $CP predict "$W/run_$AMP" "$W/test_in_domain.csv" -o "$W/pred_$AMP" --cases all \
    --threads 2 --amp "$AMP" 2>&1 | tail -1
  $CP evaluate "$W/test_in_domain.csv" --pred "$W/pred_$AMP" --method "erm-$AMP" --train-domains A:T1,B:T1 \
    -o "$W/results_$AMP.csv" > "$W/eval_$AMP.log" 2>&1 || true
  python3 -c "import csv,sys; d=[float(r['dice']) for r in csv.DictReader(open(sys.argv[1]))]; \
print(f'$AMP: in-domain test Dice mean {sum(d)/len(d):.3f} min {min(d):.3f} (n={len(d)})')" "$W/results_$AMP.csv"
done
