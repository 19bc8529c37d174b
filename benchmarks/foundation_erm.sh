#!/usr/bin/env bash
# The ERM side of the foundation-model comparison: a small synthetic cohort (centers A, B; T1, T2, OOP), the tiny
# preset + ERM trained on T1 (A:T1, B:T1), its predictions and cross-sequence Dice on every test case. Its run is
# also the `model-box` prompt source of benchmarks/foundation_litemedsam.py.
# Usage: benchmarks/foundation_erm.sh WORKDIR [THREADS]
set -euo pipefail
W=${1:-/tmp/crosspan_foundation}
T=${2:-1}
CP=${CROSSPAN:-crosspan}
mkdir -p "$W"
[ -f "$W/cohort/manifest.csv" ] || $CP synth cohort "$W/cohort" -n 18 --centers A,B --sequences T1,T2,OOP --seed 3 --workers 1
[ -f "$W/plan/plan.json" ] || $CP preprocess "$W/cohort" -o "$W/plan" --train-domains A:T1,B:T1 --cases split --workers 1
[ -f "$W/run/model_final.pt" ] || { /usr/bin/time -v $CP train "$W/plan" -o "$W/run" --steps 600 --threads "$T" \
  --hp optimizer=adamw --hp lr=0.003 --val-every 200 --val-cases 2 --ckpt-every 100 --resume 2> "$W/train_time.txt" \
  || { tail -20 "$W/train_time.txt"; exit 1; }; }
grep -E "Elapsed" "$W/train_time.txt" || true
/usr/bin/time -v $CP predict "$W/run" "$W/cohort" -o "$W/pred-erm" --cases test --threads "$T" 2> "$W/predict_time.txt"
grep -E "Elapsed" "$W/predict_time.txt"
$CP evaluate "$W/cohort" --pred "$W/pred-erm" --method erm --train-domains A:T1,B:T1 --workers 1 -o "$W/results-erm.csv"
