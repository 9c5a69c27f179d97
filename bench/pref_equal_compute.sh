#!/usr/bin/env bash
# Every way of tailoring text to a simulated user at (about) the same compute per text as
# best-of-16 (issue 16, acceptance 2's "at equal compute"). Compute is counted in transformer
# positions per text the user gets (`tailor generate` reports it: sampling and scoring
# positions; the generator, experts and reward models are the same tiny byte transformer, so a
# position costs about the same in each). Best-of-16 samples 16 texts and scores each with the
# user's reward model (~32 positions a byte of text); the other rows spend the same budget:
#   guided  reward-guided decoding with the reward model's key/value cache (1 generator + 2 per
#           rescored byte positions a step) rescoring --guide_top_k 16 bytes a step: ~33 a byte;
#   dpo_*   the user's DPO-tuned generator, best of 16 of its samples by the user's reward model;
#   soup    the user's Personalized Soup, best of 16 the same way;
#   mod     MOD over the user's experts (a position per expert a byte), best of 4.
# Each row's global rule spends the same: the population's generator, the global reward model.
# It reuses bench/pref_generation.sh's generator, DPO runs and experts (GEN_OUT) and the reward
# runs of bench/pref_methods.sh (PREF_RUNS); PICKER is the reward method that picks and guides.
#   bash bench/pref_equal_compute.sh [BUILD_DIR] [PREF_RUNS] [GEN_OUT] [ALPHA] [SEEDS] [PICKER]
#                                    [GROUPS] [OUT_DIR]
# e.g. bash bench/pref_equal_compute.sh build runs/pref_c0 runs/pref_gen_c0 0.3 "1 2 3" rep_user 16
set -euo pipefail
build=${1:-build}
runs=${2:-runs/pref_methods}
gen=${3:-runs/pref_generation}
alpha=${4:-0.3}
seeds=${5:-1 2 3}
picker=${6:-rep_user}
groups=${7:-16}
out=${8:-$gen/equal_compute}
here=$(cd "$(dirname "$0")" && pwd)
lm=$gen/lm/pretrained.tlps
[[ -f $lm ]] || { echo "no generator $lm: run bench/pref_generation.sh first" >&2; exit 1; }
mkdir -p "$out"
lm_set="model.transformer.context=128,model.initial_model=$lm,output_dir=$out/lm"
common=(--all_users --best_of 16 --groups "$groups" --max_bytes 160)
files=()
run() {  # NAME ARGS...: one `tailor generate` into $out/NAME.jsonl
  local name=$1
  shift
  "$build/tools/tailor" generate "$@" "${common[@]}" --selection_jsonl "$out/$name.jsonl" \
    > "$out/$name.log" 2>&1 || { cat "$out/$name.log"; exit 1; }
  files+=("$out/$name.jsonl")
}
for seed in $seeds; do
  pick=$runs/a${alpha}_s${seed}_$picker/config.resolved.textproto
  fedavg=$runs/a${alpha}_s${seed}_global/config.resolved.textproto
  for f in "$pick" "$fedavg"; do
    [[ -f $f ]] || { echo "no run ${f%/*}: run bench/pref_methods.sh first" >&2; exit 1; }
  done
  s=(--sample_seed $((1000 * seed)))
  # The baselines: FedAvg's reward model (the "own beats FedAvg" column) and the picker, best of 16.
  run "a${alpha}_s${seed}_global" --config "$here/../configs/lm_demo.textproto" --set "$lm_set" \
    --reward_config "$fedavg" "${s[@]}"
  run "a${alpha}_s${seed}_${picker}_best16" --config "$here/../configs/lm_demo.textproto" \
    --set "$lm_set" --reward_config "$pick" "${s[@]}"
  run "a${alpha}_s${seed}_${picker}_guided16" --config "$here/../configs/lm_demo.textproto" \
    --set "$lm_set" --reward_config "$pick" --guidance 2 --guide_top_k 16 "${s[@]}"
  for dpo in oppu dual_lora; do
    tuned=$gen/a${alpha}_s${seed}_dpo_$dpo/config.resolved.textproto
    [[ -f $tuned ]] || { echo "no DPO run ${tuned%/*}: run bench/pref_generation.sh first" >&2; exit 1; }
    run "a${alpha}_s${seed}_dpo_${dpo}_best16" --config "$tuned" --pick_with "$pick" --pick_from 16 "${s[@]}"
  done
  experts=$gen/experts_s$seed/config.resolved.textproto
  run "a${alpha}_s${seed}_soup_best16" --config "$experts" --users_config "$pick" --mix soup \
    --pick_with "$pick" --pick_from 16 "${s[@]}"
  run "a${alpha}_s${seed}_mod_best4" --config "$experts" --users_config "$pick" --mix mod \
    --pick_with "$pick" --pick_from 4 "${s[@]}"
done
/usr/bin/python3 "$here/pref_generation_table.py" "${files[@]}"
