#!/usr/bin/env bash
# Every language-model algorithm on the fortune clients from one pretrained base, then one
# table (bench/lm_table.py): per-client bits per byte (micro, median, p10, p90), the share of
# clients whose own model beats the global model and the median relative gain (the global model
# being the best non-personalized run in the same table), held-out clients, upload bytes per
# round and seconds per round.
#   bash bench/lm_algorithms.sh [BUILD_DIR] [ROUNDS] [OUT_DIR]
set -euo pipefail
build=${1:-build}
rounds=${2:-8}
out=${3:-runs/lm_algorithms}
here=$(cd "$(dirname "$0")" && pwd)
config=$here/../configs/lm_demo.textproto
mkdir -p "$out"
common="rounds=$rounds,eval.every_rounds=$rounds,model.initial_model=$out/pretrained.tlps"
common+=",pretrain.steps=1500,algorithm.finetune_epochs=1"
runs=()
for algorithm in fedavg fedavg_ft local fedper fedit ffa_lora fedsa_lora oppu ditto_lora dual_lora; do
  set_lora=""
  case $algorithm in fedit|ffa_lora|fedsa_lora|oppu|ditto_lora|dual_lora) set_lora=",model.lora.rank=8,model.lora.targets=q,model.lora.targets=v,model.lora.targets=mlp" ;; esac
  [[ $algorithm == dual_lora ]] && set_lora+=",model.lora.personal_rank=8"
  "$build/tools/tailor" simulate --config "$config" --quiet \
    --set "$common,name=lm_$algorithm,algorithm.name=$algorithm,output_dir=$out/$algorithm$set_lora" \
    > "$out/$algorithm.log" 2>&1 || { cat "$out/$algorithm.log"; exit 1; }
  runs+=("$out/$algorithm")
done
/usr/bin/python3 "$here/lm_table.py" "${runs[@]}"
