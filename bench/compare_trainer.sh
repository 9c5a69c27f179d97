#!/usr/bin/env bash
# Tailor's trainer vs a plain PyTorch loop on the same CNN, batch size and thread count, in one
# run, printed as a ratio. Needs `bash deploy/install-deps.sh --bench` (python3-torch).
#   bash bench/compare_trainer.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
json=$(mktemp)
"$build/bench/trainer_throughput" --benchmark_format=json --benchmark_out="$json" >/dev/null
for batch in 10 64; do
  tailor=$(/usr/bin/python3 - "$json" "$batch" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["benchmarks"]
print(next(r["items_per_second"] for r in runs if r["name"].endswith("/" + sys.argv[2] + "/min_time:3.000")))
PY
)
  python=$(/usr/bin/python3 "$(dirname "$0")/pytorch_trainer_baseline.py" "$batch" 6 | sed 's/.*samples_per_second=//')
  /usr/bin/python3 -c "import sys; t,p=float(sys.argv[2]),float(sys.argv[3]); print(f'batch {sys.argv[1]:>3}: tailor {t:8.1f} samples/s   pytorch-python {p:8.1f} samples/s   ratio {t/p:.2f}x')" "$batch" "$tailor" "$python"
done
rm -f "$json"
