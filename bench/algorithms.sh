#!/usr/bin/env bash
# Every algorithm on the reference benchmark (configs/reference_*.textproto: DESIGN.md's
# PFLlib Fashion-MNIST setup, 20 clients, Dirichlet(0.1)) for ROUNDS rounds, evaluated every 10,
# then the table of docs/benchmarks.md (bench/algorithm_table.py). About 15-40 s per round each
# on a 2-core machine.
#   bash bench/algorithms.sh BUILD_DIR [ROUNDS=30] [OUT=runs] [ALGORITHM...]
set -euo pipefail
build=$1
rounds=${2:-30}
out=${3:-runs}
shift $(( $# < 3 ? $# : 3 ))
algorithms=("$@")
if [[ ${#algorithms[@]} -eq 0 ]]; then
  algorithms=(fedavg fedprox fedavg_ft local fedper fedrep lg_fedavg fedbabu ditto apfl fedbn
              fedala)
fi
dirs=()
for a in "${algorithms[@]}"; do
  "$build/tools/tailor" simulate --config "configs/reference_$a.textproto" \
    --set "rounds=$rounds,output_dir=$out/reference_$a"
  dirs+=("$out/reference_$a")
done
/usr/bin/python3 bench/algorithm_table.py "${dirs[@]}"
"$build/tools/tailor" report "${dirs[@]}" --out "$out/algorithms.html"
