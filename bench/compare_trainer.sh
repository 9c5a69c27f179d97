#!/usr/bin/env bash
# Tailor's trainer vs a plain PyTorch loop on the same CNN, batch size and thread count, printed
# as a ratio. The two alternate REPS times and the medians are compared, because this class of
# machine is noisy (single runs of either side vary by 2x). Needs
# `bash deploy/install-deps.sh --bench` (python3-torch).
#   bash bench/compare_trainer.sh [BUILD_DIR] [REPS]
set -euo pipefail
build=${1:-build}
reps=${2:-5}
here=$(dirname "$0")
source "$here/alternate.sh"
for batch in 10 64; do
  alternate "batch $batch" samples/s "$reps" "BM_TrainEpoch/$batch\$" 2 -- \
    /usr/bin/python3 "$here/pytorch_trainer_baseline.py" "$batch" 2
done
