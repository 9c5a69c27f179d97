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
for model in tiny default; do
  arg=$([[ $model == tiny ]] && echo 0 || echo 1)
  tailor_runs=()
  python_runs=()
  for ((r = 0; r < reps; r++)); do
    t=$("$build/bench/trainer_throughput" --benchmark_filter="BM_TrainLmTokens/$arg\$" \
          --benchmark_min_time=4 --benchmark_format=json 2>/dev/null |
        /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['benchmarks'][0]['items_per_second'])")
    p=$(/usr/bin/python3 "$here/pytorch_lm_baseline.py" "$model" 4 | sed 's/.*tokens_per_second=//')
    tailor_runs+=("$t")
    python_runs+=("$p")
  done
  /usr/bin/python3 "$here/median_ratio.py" "$model" tokens/s "${tailor_runs[*]}" "${python_runs[*]}"
done
