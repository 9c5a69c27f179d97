#!/usr/bin/env bash
# Tailor's trainer vs a plain PyTorch loop on the same byte transformer, batch, data shape and
# thread count (bench/pytorch_lm_baseline.py), printed as a ratio of training tokens per
# second. The two alternate REPS times and the medians are compared (this class of machine is
# noisy). Needs `bash deploy/install-deps.sh --bench` (python3-torch).
#   bash bench/compare_lm_trainer.sh [BUILD_DIR] [REPS]
set -euo pipefail
build=${1:-build}
reps=${2:-3}
here=$(dirname "$0")
source "$here/alternate.sh"
for model in tiny default; do
  arg=$([[ $model == tiny ]] && echo 0 || echo 1)
  alternate "$model" tokens/s "$reps" "BM_TrainLmTokens/$arg\$" 4 -- \
    /usr/bin/python3 "$here/pytorch_lm_baseline.py" "$model" 4
done
