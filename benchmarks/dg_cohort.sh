#!/usr/bin/env bash
# DG results on the synthetic cohort: train T1 at two centers (A, B), test in-domain (A/B T1), cross-center (C T1),
# T1->T2 and T1->OOP, for ERM and every DG method; per-case CSVs, then `crosspan analyze` for patient-level CIs.
#
#   STEPS=2000 PATIENTS=24 THREADS=1 bash benchmarks/dg_cohort.sh [WORKDIR]
#
# Resumable: a finished step (run, predictions, results CSV) is skipped; an interrupted training resumes.
set -euo pipefail
WORK=${1:-runs/dg_cohort}
STEPS=${STEPS:-2000}
PATIENTS=${PATIENTS:-24}
THREADS=${THREADS:-1}
PATCH=${PATCH:-32,48,48}
SEED=${SEED:-0}
DEVICE=${DEVICE:-cpu}
METHODS=${METHODS:-erm bigaug randconv gin gin-ipa contrast-inversion mixstyle dsu groupdro vrex slaug dualnorm}
CP=${CROSSPAN:-crosspan}
mkdir -p "$WORK"/{runs,preds,results}
[ -d "$WORK/cohort" ] || $CP synth cohort "$WORK/cohort" -n "$PATIENTS" --shape small --centers A,B,C \
  --sequences T1,T2,OOP --seed "$SEED" --workers "$THREADS"
[ -f "$WORK/splits.json" ] || $CP data splits "$WORK/cohort" -p cross-sequence --train A:T1,B:T1 \
  -o "$WORK/splits.json" --seed "$SEED"
[ -f "$WORK/plan/plan.json" ] || $CP preprocess "$WORK/cohort" --splits "$WORK/splits.json" -o "$WORK/plan" \
  --cases split --workers "$THREADS"
for m in $METHODS; do
  run="$WORK/runs/$m"
  if [ ! -f "$run/model_final.pt" ]; then
    resume=(); [ -f "$run/checkpoint_last.pt" ] && resume=(--resume)
    $CP train "$WORK/plan" -o "$run" --method "$m" --steps "$STEPS" --patch "$PATCH" --seed "$SEED" \
      --threads "$THREADS" --device "$DEVICE" "${resume[@]}"
  fi
  [ -d "$WORK/preds/$m" ] || $CP predict "$run" "$WORK/cohort" --splits "$WORK/splits.json" -o "$WORK/preds/$m" \
    --threads "$THREADS" --device "$DEVICE"
  [ -f "$WORK/results/$m.csv" ] || $CP evaluate "$WORK/cohort" --pred "$WORK/preds/$m" --method "$m" \
    --splits "$WORK/splits.json" --seed "$SEED" -o "$WORK/results/$m.csv" --workers "$THREADS"
done
$CP analyze "$WORK"/results/*.csv -o "$WORK/analysis" --seed "$SEED"
${PYTHON:-python} "$(dirname "$0")/dg_cohort_table.py" "$WORK"/results/*.csv > "$WORK/table.md"
cat "$WORK/table.md"
