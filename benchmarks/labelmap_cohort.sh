#!/usr/bin/env bash
# Label-map training on the synthetic cohort (issue #12): physics-rand and synthseg trained only on the tissue label
# maps of the source patients (A, B; no image seen), next to ERM and contrast inversion trained on their T1 images.
# Test: every test patient's T1, T2 and OOP (in-center A/B and cross-center C); per-case CSVs, then `crosspan
# analyze` and benchmarks/labelmap_cohort_table.py for patient-clustered bootstrap CIs.
#
#   THREADS=1 bash benchmarks/labelmap_cohort.sh [WORKDIR]
#   STEPS="physics-rand:3000 erm:3000" (list of NAME[=METHOD]:STEPS[:HP=V,HP=V], e.g. pr-patchnorm=physics-rand:3000:volume_norm=0)
#
# Resumable: a finished step (run, predictions, results CSV) is skipped; an interrupted training resumes.
set -euo pipefail
WORK=${1:-runs/labelmap_cohort}
STEPS=${STEPS:-physics-rand:3000 erm:3000 contrast-inversion:3000 synthseg:3000}
PATIENTS=${PATIENTS:-24}
THREADS=${THREADS:-1}
PATCH=${PATCH:-32,48,48}
SEED=${SEED:-0}
DEVICE=${DEVICE:-cpu}
CP=${CROSSPAN:-crosspan}
mkdir -p "$WORK"/{runs,preds,results}
[ -d "$WORK/cohort" ] || $CP synth cohort "$WORK/cohort" -n "$PATIENTS" --shape small --centers A,B,C \
  --sequences T1,T2,OOP --tissue-maps --seed "$SEED" --workers "$THREADS"
for input in images label-maps; do
  [ -f "$WORK/splits_$input.json" ] || $CP data splits "$WORK/cohort" -p cross-sequence --train A:T1,B:T1 \
    --training-input "$input" -o "$WORK/splits_$input.json" --seed "$SEED"
  [ -f "$WORK/plan_$input/plan.json" ] || $CP preprocess "$WORK/cohort" --splits "$WORK/splits_$input.json" \
    -o "$WORK/plan_$input" --cases split --workers "$THREADS"
done
for ms in $STEPS; do
  IFS=: read -r name steps hps <<< "$ms"
  m=$name; [[ $name == *=* ]] && { m=${name#*=}; name=${name%%=*}; }
  hp=(); for kv in ${hps//,/ }; do hp+=(--hp "$kv"); done
  case $m in physics-rand|synthseg) input=label-maps ;; *) input=images ;; esac
  run="$WORK/runs/$name"
  if [ ! -f "$run/model_final.pt" ]; then
    resume=(); [ -f "$run/checkpoint_last.pt" ] && resume=(--resume)
    $CP train "$WORK/plan_$input" -o "$run" --method "$m" --steps "$steps" --patch "$PATCH" --seed "$SEED" \
      --threads "$THREADS" --device "$DEVICE" --ckpt-every 250 "${hp[@]}" "${resume[@]}"
  fi
  m=$name
  [ -d "$WORK/preds/$m" ] || $CP predict "$run" "$WORK/cohort" --splits "$WORK/splits_$input.json" \
    -o "$WORK/preds/$m" --threads "$THREADS" --device "$DEVICE"
  [ -f "$WORK/results/$m.csv" ] || $CP evaluate "$WORK/cohort" --pred "$WORK/preds/$m" --method "$m" \
    --splits "$WORK/splits_$input.json" --seed "$SEED" -o "$WORK/results/$m.csv" --workers "$THREADS"
done
$CP analyze "$WORK"/results/*.csv -o "$WORK/analysis" --seed "$SEED"
${PYTHON:-python} "$(dirname "$0")/labelmap_cohort_table.py" "$WORK"/results/*.csv > "$WORK/table.md"
cat "$WORK/table.md"
