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
for batch in 10 64; do
  tailor_runs=()
  python_runs=()
  for ((r = 0; r < reps; r++)); do
    t=$("$build/bench/trainer_throughput" --benchmark_filter="BM_TrainEpoch/$batch\$" \
          --benchmark_min_time=2 --benchmark_format=json 2>/dev/null |
        /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['benchmarks'][0]['items_per_second'])")
    p=$(/usr/bin/python3 "$here/pytorch_trainer_baseline.py" "$batch" 2 | sed 's/.*samples_per_second=//')
    tailor_runs+=("$t")
    python_runs+=("$p")
  done
  /usr/bin/python3 "$here/median_ratio.py" "batch $batch" samples/s "${tailor_runs[*]}" "${python_runs[*]}"
done
