#!/usr/bin/env bash
# In-domain quality of the tiny preset + ERM on the synthetic cohort (T1 from centers A and B), CPU.
# Usage: [AMP=bf16] benchmarks/probes/engine_quality.sh WORKDIR [THREADS]   (AMP: --amp for train and predict; default none)
set -euo pipefail
W=${1:-/tmp/crosspan_engine_quality}
T=${2:-2}
CP=${CROSSPAN:-crosspan}
AMP=${AMP:-none}
mkdir -p "$W"
[ -f "$W/cohort/manifest.csv" ] || $CP synth cohort "$W/cohort" -n 48 --centers A,B,C --sequences T1,T2,OOP --seed 1 --workers 1
$CP preprocess "$W/cohort" -o "$W/plan" --train-domains A:T1,B:T1 --cases split --workers 1
/usr/bin/time -v $CP train "$W/plan" -o "$W/run" --steps 600 --threads "$T" --hp optimizer=adamw --hp lr=0.003 \
  --val-every 200 --val-cases 2 --ckpt-every 100 --amp "$AMP" 2> "$W/train_time.txt" || { tail -20 "$W/train_time.txt"; exit 1; }
grep -E "Elapsed|Maximum resident" "$W/train_time.txt"
/usr/bin/time -v $CP predict "$W/run" "$W/cohort" -o "$W/pred" --cases test --threads "$T" --amp "$AMP" 2> "$W/predict_time.txt"
grep -E "Elapsed" "$W/predict_time.txt"
$CP evaluate "$W/cohort" --pred "$W/pred" --method erm --train-domains A:T1,B:T1 -o "$W/results.csv" || true
