#!/usr/bin/env bash
# paired-sequence vs ERM and Mean Teacher on the synthetic cohort: train T1 at centers A, B with RATIOS % of the
# training patients labeled; unlabeled pool = the OOP and T2 scans of the training patients (plus the T1 scans of
# the unlabeled patients); `crosspan ssl pair` transports each labeled T1 label onto the same patient's OOP / T2
# scans; one plan per ratio (from the paired catalog) serves every method. Test: in-domain, cross-center, T1->T2,
# T1->OOP with 95 % patient-clustered bootstrap CIs.
#
#   COHORT=/tmp/dgc/cohort STEPS=1000 RATIOS="25 100" THREADS=1 EXTRA=1 bash benchmarks/ssl_paired.sh [WORKDIR]
#
# RUNS: space-separated TAG=METHOD[:HP,HP] (HP as --hp k=v); ORDER: the ratios in training order (default RATIOS).
# Resumable: a finished step is skipped.
set -euo pipefail
WORK=${1:-runs/ssl_paired}
STEPS=${STEPS:-1000}
PATIENTS=${PATIENTS:-24}
THREADS=${THREADS:-1}
PATCH=${PATCH:-32,48,48}
SEED=${SEED:-0}
DEVICE=${DEVICE:-cpu}
RATIOS=${RATIOS:-25 100}
UNLABELED=${UNLABELED:-*:OOP,*:T2}
RUNS=${RUNS:-paired-sequence=paired-sequence erm=erm mean-teacher=mean-teacher paired-sequence+mt=paired-sequence:teacher_weight=0.1}
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
  [ -f "$WORK/pair-r$r/catalog.csv" ] || $CP ssl pair "$COHORT" --splits "$WORK/splits.json" --fold "$fold" \
    -o "$WORK/pair-r$r" --workers "$THREADS" --seed "$SEED"
  [ -f "$WORK/plan-r$r/plan.json" ] || $CP preprocess "$WORK/pair-r$r/catalog.csv" --splits "$WORK/splits.json" \
    --fold "$fold" -o "$WORK/plan-r$r" --cases split --workers "$THREADS"
  eval "FOLD_$r=$fold"
  fold=$((fold + 1))
done
for r in ${ORDER:-$RATIOS}; do
  for spec in $RUNS; do
    tag=${spec%%=*}; rest=${spec#*=}; m=${rest%%:*}; hp=()
    if [ "$rest" != "$m" ]; then IFS=',' read -ra kv <<< "${rest#*:}"; for x in "${kv[@]}"; do hp+=(--hp "$x"); done; fi
    f=$(eval echo "\$FOLD_$r"); run="$WORK/runs/$tag-r$r"
    if [ ! -f "$run/model_final.pt" ]; then
      resume=(); [ -f "$run/checkpoint_last.pt" ] && resume=(--resume)
      $CP train "$WORK/plan-r$r" -o "$run" --method "$m" --steps "$STEPS" --patch "$PATCH" --seed "$SEED" \
        --threads "$THREADS" --device "$DEVICE" "${hp[@]}" "${resume[@]}"
    fi
    [ -d "$WORK/preds/$tag-r$r" ] || $CP predict "$run" "$COHORT" --splits "$WORK/splits.json" --fold "$f" \
      -o "$WORK/preds/$tag-r$r" --threads "$THREADS" --device "$DEVICE"
    [ -f "$WORK/results/$tag-r$r.csv" ] || $CP evaluate "$COHORT" --pred "$WORK/preds/$tag-r$r" --method "$tag-r$r" \
      --splits "$WORK/splits.json" --fold "$f" --seed "$SEED" -o "$WORK/results/$tag-r$r.csv" --workers "$THREADS"
  done
done
# EXTRA=1: two more runs, for the first ratio (fold 0) only the pool cut to the paired scans
# (OUT/splits_paired.json of `crosspan ssl pair`), for the last ratio an upper bound with the unlabeled scans' TRUE
# labels as pseudo-labels (weight 1; a hand-made catalog, never what `crosspan ssl pair` writes)
eval_run() {  # TAG PLAN FOLD [train args...]
  local tag=$1 plan=$2 f=$3; shift 3
  [ -f "$WORK/runs/$tag/model_final.pt" ] || $CP train "$plan" -o "$WORK/runs/$tag" --steps "$STEPS" --patch "$PATCH" \
    --seed "$SEED" --threads "$THREADS" --device "$DEVICE" "$@"
  [ -d "$WORK/preds/$tag" ] || $CP predict "$WORK/runs/$tag" "$COHORT" --splits "$WORK/splits.json" --fold "$f" \
    -o "$WORK/preds/$tag" --threads "$THREADS" --device "$DEVICE"
  [ -f "$WORK/results/$tag.csv" ] || $CP evaluate "$COHORT" --pred "$WORK/preds/$tag" --method "$tag" \
    --splits "$WORK/splits.json" --fold "$f" --seed "$SEED" -o "$WORK/results/$tag.csv" --workers "$THREADS"
}
if [ "${EXTRA:-0}" = 1 ]; then
  set -- $RATIOS; first=$1; last=${!#}; lf=$(( $# - 1 ))
  [ -f "$WORK/plan-r${first}p/plan.json" ] || $CP preprocess "$WORK/pair-r$first/catalog.csv" --splits \
    "$WORK/pair-r$first/splits_paired.json" --fold 0 -o "$WORK/plan-r${first}p" --cases split --workers "$THREADS"
  eval_run "paired-sequence-pairedpool-r$first" "$WORK/plan-r${first}p" 0 --method paired-sequence
  mkdir -p "$WORK/oracle-r$last"
  ${PYTHON:-python} -c "
import sys
from crosspan.data.catalog import load_catalog, save_catalog
c = load_catalog(sys.argv[1]); m = c['pseudo_label'] != ''
c.loc[m, 'pseudo_label'] = c.loc[m, 'label']; c.loc[m, 'pseudo_weight'] = '1.0'
save_catalog(c, sys.argv[2])" "$WORK/pair-r$last/catalog.csv" "$WORK/oracle-r$last/catalog.csv"
  [ -f "$WORK/plan-r${last}o/plan.json" ] || $CP preprocess "$WORK/oracle-r$last/catalog.csv" --splits \
    "$WORK/splits.json" --fold "$lf" -o "$WORK/plan-r${last}o" --cases split --workers "$THREADS"
  eval_run "oracle-true-labels-r$last" "$WORK/plan-r${last}o" "$lf" --method paired-sequence
fi
${PYTHON:-python} "$(dirname "$0")/ssl_cohort_table.py" "$WORK"/results/*.csv > "$WORK/table.md"
${PYTHON:-python} "$(dirname "$0")/ssl_paired_quality.py" "$COHORT" "$WORK"/pair-r*/pairs.csv > "$WORK/pairs.md"
cat "$WORK/table.md" "$WORK/pairs.md"
