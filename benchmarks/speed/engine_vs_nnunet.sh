#!/usr/bin/env bash
# Preprocessing throughput: `crosspan preprocess` vs nnU-Net v2's `nnUNetv2_plan_and_preprocess` on the same
# training cases of a synthetic cohort. nnU-Net lives in its own venv (never a crosspan dependency):
#   python3.11 -m venv /tmp/nnvenv && /tmp/nnvenv/bin/pip install -c constraints.txt nnunetv2
#   bash benchmarks/speed/engine_vs_nnunet.sh /tmp/nnbench            (NNVENV=/tmp/nnvenv by default)
set -euo pipefail
OUT=${1:-/tmp/nnbench}
NNVENV=${NNVENV:-/tmp/nnvenv}
CROSSPAN=${CROSSPAN:-.venv/bin/crosspan}
WORKERS=${WORKERS:-2}
rm -rf "$OUT" && mkdir -p "$OUT"
$CROSSPAN synth cohort "$OUT/cohort" --patients 24 --centers A,B,C --sequences T1 --seed 0 --shape default
$CROSSPAN data catalog "$OUT/cohort" -o "$OUT/catalog.csv"
$CROSSPAN data splits "$OUT/catalog.csv" -p in-domain --train A:T1,B:T1,C:T1 --folds 5 -o "$OUT/splits.json"
$CROSSPAN export nnunet "$OUT/catalog.csv" --splits "$OUT/splits.json" --id 501 --name Bench -o "$OUT/raw" --copy
n=$(ls "$OUT/raw/Dataset501_Bench/imagesTr" | wc -l)
# crosspan: the same training cases only (the split's train + val)
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
doc = json.load(open(f"{out}/splits.json"))
s = doc["splits"][0]
doc["splits"] = [{**s, "test": [], "unlabeled": []}]
json.dump(doc, open(f"{out}/splits_train_only.json", "w"))
PY
t0=$(date +%s.%N)
$CROSSPAN preprocess "$OUT/catalog.csv" -o "$OUT/cp_plan" --splits "$OUT/splits_train_only.json" --cases split \
  --workers "$WORKERS" > /dev/null
t1=$(date +%s.%N)
export nnUNet_raw="$OUT/raw" nnUNet_preprocessed="$OUT/nn_pre" nnUNet_results="$OUT/nn_results"
"$NNVENV/bin/nnUNetv2_plan_and_preprocess" -d 501 -c 3d_fullres -npfp "$WORKERS" -np "$WORKERS" > "$OUT/nn.log" 2>&1
t2=$(date +%s.%N)
python3 - "$n" "$t0" "$t1" "$t2" <<'PY'
import sys
n, t0, t1, t2 = int(sys.argv[1]), *map(float, sys.argv[2:])
cp, nn = t1 - t0, t2 - t1
print(f"cases: {n} (default-size synthetic T1, 3 centers)")
print(f"crosspan preprocess:           {cp:7.1f} s  {60 * n / cp:6.1f} cases/min")
print(f"nnUNetv2_plan_and_preprocess:  {nn:7.1f} s  {60 * n / nn:6.1f} cases/min  (fingerprint + plans + 3d_fullres)")
print(f"ratio (nnU-Net time / crosspan time): {nn / cp:.2f}x")
PY
