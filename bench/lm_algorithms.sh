#!/usr/bin/env bash
# Every language-model algorithm on the fortune clients (configs/lm_<algorithm>.textproto) from
# one pretrained base, then one table (bench/lm_table.py): per-client bits per byte (micro,
# mean, median, p10, p90), the share of clients whose own model beats the global model and the
# median relative gain (the global model being the best non-personalized run in the same
# table), held-out clients, upload bytes per round and seconds per round; the same by language;
# and held-out clients after k = 1, 2, 4, 8 epochs of local training for a few algorithms.
#   bash bench/lm_algorithms.sh [BUILD_DIR] [OUT_DIR] [--set OVERRIDES]
# OVERRIDES (comma-separated, as `tailor simulate --set`) apply to every run, e.g. rounds=16.
set -euo pipefail
build=${1:-build}
out=${2:-runs/lm_algorithms}
extra=""
[[ ${3:-} == --set ]] && extra=",$4"
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out/unseen"
run() {  # run NAME CONFIG OVERRIDES
  "$build/tools/tailor" simulate --config "$2" --quiet \
    --set "model.initial_model=$out/pretrained.tlps,output_dir=$out/$1$3$extra" \
    > "$out/$1.log" 2>&1 || { cat "$out/$1.log"; exit 1; }
}
runs=()
for algorithm in fedavg fedavg_ft local fedper fedit ffa_lora fedsa_lora oppu ditto_lora dual_lora; do
  run "$algorithm" "$here/../configs/lm_$algorithm.textproto" ""
  runs+=("$out/$algorithm")
done
unseen=()
for algorithm in fedavg_ft local fedsa_lora oppu; do
  for k in 2 4 8; do
    run "unseen/${algorithm}_$k" "$here/../configs/lm_$algorithm.textproto" ",eval.new_client_epochs=$k"
    unseen+=("$out/unseen/${algorithm}_$k")
  done
done
/usr/bin/python3 "$here/lm_table.py" "${runs[@]}" --unseen "${unseen[@]}"
