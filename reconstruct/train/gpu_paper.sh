#!/usr/bin/env bash
# Trains the `paper` preset on a GPU machine and writes the ONNX graphs, the card, the test
# tensors, the evaluation and a picture to $OUT/paper. Needs Python 3 with PyTorch (2.x is
# fine; CUDA), onnx and numpy, and the data folder (../shared/data by default).
#
#   OUT=/some/dir MINUTES=9 reconstruct/train/gpu_paper.sh
#
# MINUTES is the training wall time (the cosine schedule is laid over it, so a short budget
# still ends annealed). Re-running with the same OUT resumes from $OUT/run/last.pt.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-python3}
OUT=${OUT:?set OUT to an output folder}
MINUTES=${MINUTES:-9}
DATA=${DATA:-../shared/data}
[ -d "$DATA" ] || DATA=shared/data
[ -f "$DATA/medulla-a-fibsem-10nm-iso.npy" ] || { echo "gpu_paper: no training data in $DATA (set DATA)" >&2; exit 1; }
mkdir -p "$OUT"
$PY -c 'import torch; assert torch.cuda.is_available(), "no CUDA"; print("torch", torch.__version__, torch.cuda.get_device_name(0))'
# Full-resolution 128x128 crops, all pixels queried; larger batches than on the CPU.
$PY reconstruct/train/train.py --preset paper --device cuda --data "$DATA" --run "$OUT/run" \
  --loss l1 --budget-minutes "$MINUTES" --lr 5e-4 --lr-min 1e-5 \
  --warm-crop 64 --warm-batch 64 --warm-frac 0.3 --crop 128 --batch 16 \
  --val-every 500 --threads 8 --seed 0 --export "$OUT/paper" 2>&1 | tee "$OUT/train.log"
$PY reconstruct/train/evaluate.py --model "$OUT/paper" --data "$DATA" --threads 8 \
  --png "$OUT/paper-hemibrain-xz.png" --json "$OUT/paper-eval.json" --update-card | tee "$OUT/eval.txt"
cp "$OUT/run/log.jsonl" "$OUT/paper-train-log.jsonl"
