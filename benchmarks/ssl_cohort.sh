#!/usr/bin/env bash
# SSL label-ratio results on the synthetic cohort: train T1 at centers A, B with RATIOS % of the training patients
# labeled, unlabeled pool = the OOP scans of the training patients; test in-domain, cross-center, T1->T2, T1->OOP.
#
#   STEPS=200 RATIOS="25 100" THREADS=1 bash benchmarks/ssl_cohort.sh [WORKDIR]
#
# Resumable: a finished step is skipped. COHORT=<folder> reuses an existing synthetic cohort.
set -euo pipefail
WORK=${1:-runs/ssl_cohort}
STEPS=${STEPS:-200}
PATIENTS=${PATIENTS:-24}
THREADS=${THREADS:-1}
PATCH=${PATCH:-32,48,48}
SEED=${SEED:-0}
DEVICE=${DEVICE:-cpu}
RATIOS=${RATIOS:-25 100}
UNLABELED=${UNLABELED:-*:OOP}
METHODS=${METHODS:-erm mean-teacher anatomy-invariant fixmatch cps ua-mt}
CP=${CROSSPAN:-crosspan}
mkdir -p "$WORK"/{runs,preds,results}
COHORT=${COHORT:-$WORK/cohort}
[ -d "$COHORT" ] || $CP synth cohort "$COHORT" -n "$PATIENTS" --shape small --centers A,B,C \
  --sequences T1,T2,OOP --seed "$SEED" --workers "$THREADS"
ratios_csv=$(echo $RATIOS | tr ' ' ',')
[ -f "$WORK/splits.json" ] || $CP data splits "$COHORT" -p cross-sequence --train A:T1,B:T1 \
  --unlabeled "$UNLABELED" --label-ratios "$ratios_csv" -o "$WORK/splits.json" --seed "$SEED"
fold=0
for r in $RATIOS; do
  plan="$WORK/plan-r$r"
  [ -f "$plan/plan.json" ] || $CP preprocess "$COHORT" --splits "$WORK/splits.json" --fold "$fold" -o "$plan" \
    --cases split --workers "$THREADS"
  eval "FOLD_$r=$fold"
  fold=$((fold + 1))
done
for m in $METHODS; do
  for r in $RATIOS; do
    f=$(eval echo "\$FOLD_$r"); tag="$m-r$r"; run="$WORK/runs/$tag"
    if [ ! -f "$run/model_final.pt" ]; then
      resume=(); [ -f "$run/checkpoint_last.pt" ] && resume=(--resume)
      $CP train "$WORK/plan-r$r" -o "$run" --method "$m" --steps "$STEPS" --patch "$PATCH" --seed "$SEED" \
        --threads "$THREADS" --device "$DEVICE" "${resume[@]}"
    fi
    [ -d "$WORK/preds/$tag" ] || $CP predict "$run" "$COHORT" --splits "$WORK/splits.json" --fold "$f" \
      -o "$WORK/preds/$tag" --threads "$THREADS" --device "$DEVICE"
    [ -f "$WORK/results/$tag.csv" ] || $CP evaluate "$COHORT" --pred "$WORK/preds/$tag" --method "$tag" \
      --splits "$WORK/splits.json" --fold "$f" --seed "$SEED" -o "$WORK/results/$tag.csv" --workers "$THREADS"
  done
done
${PYTHON:-python} "$(dirname "$0")/ssl_cohort_table.py" "$WORK"/results/*.csv > "$WORK/table.md"
cat "$WORK/table.md"
