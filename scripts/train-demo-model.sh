#!/bin/sh
# Rebuilds models/demo-part from nothing: synthetic dataset, training, ONNX
# export, model.json and MODEL_CARD.md. Takes a few minutes on 2 CPU cores.
#
#   scripts/train-demo-model.sh [--seed N]
#
# Needs Node (with this repository's packages installed) and a Python 3 with
# torch, numpy and onnx; /usr/bin/python3 is tried first, then python3 on PATH.
set -eu
cd "$(dirname "$0")/.."

seed=1
if [ "${1:-}" = "--seed" ]; then seed="$2"; fi

python=""
for candidate in /usr/bin/python3 python3; do
  if "$candidate" -c 'import torch, numpy, onnx' 2>/dev/null; then python="$candidate"; break; fi
done
if [ -z "$python" ]; then
  echo "train-demo-model: no Python with torch, numpy and onnx found (tried /usr/bin/python3, python3)" >&2
  exit 1
fi

data=models/training/.cache/dataset
npx tsx scripts/make-dataset.ts --out "$data" --seed "$seed" --train 5000 --val 1000 --test 1500 --defect-rate 0.5 --size 128
"$python" models/training/train.py --data "$data" --out models/demo-part --seed "$seed" --epochs 22 \
  --command "scripts/train-demo-model.sh --seed $seed"
