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
  /usr/bin/python3 - "$batch" "${tailor_runs[*]}" "${python_runs[*]}" <<'PY'
import statistics, sys
batch = sys.argv[1]
t = [float(x) for x in sys.argv[2].split()]
p = [float(x) for x in sys.argv[3].split()]
ratios = sorted(a / b for a, b in zip(t, p))
print(f"batch {batch:>3}: tailor median {statistics.median(t):7.1f} samples/s  "
      f"pytorch-python median {statistics.median(p):7.1f} samples/s  "
      f"ratio of medians {statistics.median(t) / statistics.median(p):.2f}x  "
      f"(paired ratios {ratios[0]:.2f}..{ratios[-1]:.2f}, {len(t)} pairs)")
PY
done
