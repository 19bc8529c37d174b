#!/usr/bin/env bash
# Training step + sliding window: crosspan engine vs nnU-Net v2 (trainer and predictor) on one network, CPU.
# nnU-Net lives in its own venv (never a crosspan dependency); this creates it when missing:
#   bash benchmarks/speed/engine_vs_nnunet_train_predict.sh /tmp/nnstep [extra args, e.g. --steps 6 --volumes 2 --profile]
set -euo pipefail
OUT=${1:-/tmp/nnstep}
shift || true
NNVENV=${NNVENV:-/tmp/nnvenv}
if [ ! -x "$NNVENV/bin/nnUNetv2_train" ]; then
  python3.11 -m venv "$NNVENV"
  "$NNVENV/bin/pip" install -q -c constraints.txt nnunetv2
fi
.venv/bin/python benchmarks/speed/engine_vs_nnunet_train_predict.py -o "$OUT" --nnvenv "$NNVENV" --threads 2 "$@"
